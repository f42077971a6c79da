// Every state a gate can be in has a way forward, and `dwm next` and `dwm gates` name it: opened,
// approved, rejected, reopened by a recompile, reopened by the rejection of work upstream, and
// superseded. Driven through the CLI on examples/fan-out (schema 0.6).
import type { GatesReport, NextStep } from "@dwm/schemas";
import { git, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { dwmInProcess, editJson, exampleRepo } from "../test-support/in-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** The parts of a plan's phase this test edits. */
interface Phase {
  id: string;
  depends_on: string[];
  command?: { run: string[] };
  fan_out?: { max_items: number };
  [key: string]: unknown;
}
type Plan = { phases: Phase[] };

/** examples/fan-out in a fresh repository, its plan changed by `edit`. */
function fanOut(edit: (plan: Plan) => void = () => {}): TempDir {
  return exampleRepo("fan-out", cleanups, (dir) => editJson(dir, "workflow.plan.json", edit));
}

function editPlan(dir: string, edit: (plan: Plan) => void): void {
  editJson(dir, "workflow.plan.json", edit);
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "plan");
}

const phase = (plan: Plan, id: string) => plan.phases.find((p) => p.id === id) as Phase;
/** The list command marks these documents revised: list changes, and so does every item it lists anew. */
const revise = (ids: string) => (plan: Plan) => {
  phase(plan, "list").command = { run: ["node", "scripts/list.mjs", "--revise", ids] };
};

async function dwm(cwd: string, ...argv: string[]) {
  const wt = makeTempDir("dwm-gate-flows-wt-");
  cleanups.push(wt.cleanup);
  return dwmInProcess(cwd, argv, wt.path);
}

async function next(cwd: string): Promise<NextStep> {
  return JSON.parse((await dwm(cwd, "next", "--json")).stdout) as NextStep;
}

/** Each gate's state, digest and way forward. */
async function gates(cwd: string) {
  const r = JSON.parse((await dwm(cwd, "gates", "--json")).stdout) as GatesReport;
  return Object.fromEntries(
    r.gates.map((g) => [g.gate_id, { state: g.state, digest: g.gate_digest, next: g.next }]),
  );
}

async function runTo(cwd: string, exit: number, ...args: string[]): Promise<void> {
  const r = await dwm(cwd, "run", ...args);
  expect(r.stderr).toBe("");
  expect(r.code, r.stdout).toBe(exit);
}

describe("the fan-out example's --revise flow", () => {
  it("an approved gate over work a recompile sends back is asked again with a new digest, and the run completes", async () => {
    const repo = fanOut();
    await runTo(repo.path, 4, "workflow.plan.json");
    const first = await next(repo.path);
    expect(first).toMatchObject({ action: "approve-gate", gate_id: "human-gate-accept" });
    const runId = first.run_id;
    const asked = (await gates(repo.path))["human-gate-accept"]?.digest;
    expect((await dwm(repo.path, "approve", runId, "human-gate-accept")).code).toBe(0);
    await runTo(repo.path, 0, runId);

    editPlan(repo.path, revise("gates"));
    expect((await dwm(repo.path, "compile", "workflow.plan.json")).code).toBe(0);
    const reopened = (await gates(repo.path))["human-gate-accept"];
    expect(reopened?.state).toBe("closed");
    expect(reopened?.digest).not.toBe(asked);
    expect(reopened?.next).toMatch(
      /^reopened \(revision 2 changed list; accept will run again, so the gate is asked again\); asked when the run reaches it: dwm run /,
    );
    expect(await next(repo.path)).toMatchObject({ action: "approve-gate", gate_id: "shell-process" });

    // The policy file approves the risk gates again; the run reaches the human gate and asks it anew.
    await runTo(repo.path, 4, "workflow.plan.json");
    const again = await next(repo.path);
    expect(again).toMatchObject({ action: "approve-gate", gate_id: "human-gate-accept" });
    expect((await gates(repo.path))["human-gate-accept"]).toMatchObject({
      state: "open",
      digest: reopened?.digest,
    });
    expect((await dwm(repo.path, "approve", runId, "human-gate-accept")).code).toBe(0);
    await runTo(repo.path, 0, runId);
    // Complete: what is left is to land the result in the branch the run started from.
    expect(await next(repo.path)).toMatchObject({ action: "land" });
    expect((await dwm(repo.path, "verify", runId)).code).toBe(0);
  }, 300_000);
});

describe("every gate transition has a way forward", () => {
  it("opened, superseded, approved, rejected, reopened by the rejection upstream, reopened by a recompile", async () => {
    // A second human gate (check-report) between the report and the acceptance; at most 3 items.
    const repo = fanOut((plan) => {
      const accept = phase(plan, "accept");
      const check = {
        ...structuredClone(accept),
        id: "check-report",
        name: "Check the report",
        depends_on: ["report"],
        exit_criteria: ["a human checked the report"],
        review: ["reports/summary.md on the integration branch"],
      };
      accept.depends_on = ["report", "check-report"];
      plan.phases.splice(plan.phases.indexOf(accept), 0, check);
      (phase(plan, "measure").fan_out as { max_items: number }).max_items = 3;
    });

    // Opened: six documents are more than three; the fan-out limit gate asks.
    await runTo(repo.path, 4, "workflow.plan.json");
    const limit = "fanout-limit/measure/1";
    const n1 = await next(repo.path);
    const runId = n1.run_id;
    expect(n1).toMatchObject({
      action: "approve-gate",
      gate_id: limit,
      argv: ["dwm", "approve", runId, limit],
    });
    let g = await gates(repo.path);
    expect(g[limit]?.state).toBe("open");
    expect(g[limit]?.next).toBe(
      `waits for your decision: dwm approve ${runId} ${limit}, or reject it with a reason`,
    );
    expect(g["human-gate-check-report"]?.next).toBe(`asked when the run reaches it: dwm run ${runId}`);

    // Superseded: the plan changes the list (and allows ten items): the limit gate asks nothing any more.
    editPlan(repo.path, (plan) => {
      revise("architecture")(plan);
      (phase(plan, "measure").fan_out as { max_items: number }).max_items = 10;
    });
    expect((await dwm(repo.path, "compile", "workflow.plan.json")).code).toBe(0);
    g = await gates(repo.path);
    expect(g[limit]?.state).toBe("superseded");
    expect(g[limit]?.next).toBe(
      "superseded (revision 2 changed list, measure, grade; list will run again); nothing to decide",
    );
    expect((await dwm(repo.path, "approve", runId, limit)).stderr).toContain("ERR_GATE_NOT_OPEN");
    // The risk gates permitted list as it was: they are asked again (the policy file answers them on run).
    expect(g["shell-process"]?.state).toBe("closed");
    expect(g["shell-process"]?.next).toMatch(
      /^reopened \(revision 2 changed list, measure, grade; list, measure will run again, so the gate is asked again\); holds ready work: dwm approve /,
    );
    expect(await next(repo.path)).toMatchObject({ action: "approve-gate", gate_id: "shell-process" });

    // Approved: the run reaches check-report; approving it lets the run reach accept.
    await runTo(repo.path, 4, runId);
    expect(await next(repo.path)).toMatchObject({
      action: "approve-gate",
      gate_id: "human-gate-check-report",
    });
    const checkAsked = (await gates(repo.path))["human-gate-check-report"]?.digest;
    expect((await dwm(repo.path, "approve", runId, "human-gate-check-report")).code).toBe(0);
    g = await gates(repo.path);
    expect(g["human-gate-check-report"]).toMatchObject({
      state: "approved",
      next: "approved; nothing to decide",
    });
    expect(await next(repo.path)).toMatchObject({ action: "run", argv: ["dwm", "run", runId] });
    await runTo(repo.path, 4, runId);
    expect(await next(repo.path)).toMatchObject({ action: "approve-gate", gate_id: "human-gate-accept" });
    const acceptAsked = (await gates(repo.path))["human-gate-accept"]?.digest;

    // Rejected, sending the report back: check-report judged the old report, so it is reopened.
    const rej = await dwm(
      repo.path,
      "reject",
      runId,
      "human-gate-accept",
      "--reason",
      "regrade",
      "--packets",
      "report",
    );
    expect(rej.code).toBe(0);
    g = await gates(repo.path);
    expect(g["human-gate-accept"]).toMatchObject({
      state: "rejected",
      next: `rejected; the work it sent back runs again (dwm run ${runId}), then it is asked again`,
    });
    expect(g["human-gate-check-report"]?.state).toBe("closed");
    expect(g["human-gate-check-report"]?.digest).not.toBe(checkAsked);
    expect(g["human-gate-check-report"]?.next).toBe(
      `reopened (gate human-gate-accept rejected; check-report will run again, so the gate is asked again); asked when the run reaches it: dwm run ${runId}`,
    );
    expect(await next(repo.path)).toMatchObject({ action: "run", reason: "1 packet(s) are ready (report)" });
    // An approval of the old question is refused.
    const stale = await dwm(repo.path, "approve", runId, "human-gate-check-report");
    expect(stale.stderr).toContain("ERR_GATE_NOT_OPEN");

    // The report runs again; check-report is asked with its new digest, then accept with a digest over what changed.
    await runTo(repo.path, 4, runId);
    g = await gates(repo.path);
    expect(g["human-gate-check-report"]).toMatchObject({ state: "open" });
    expect(g["human-gate-check-report"]?.digest).not.toBe(checkAsked);
    expect((await dwm(repo.path, "approve", runId, "human-gate-check-report")).code).toBe(0);
    await runTo(repo.path, 4, runId);
    g = await gates(repo.path);
    expect(g["human-gate-accept"]?.state).toBe("open");
    expect(g["human-gate-accept"]?.digest).not.toBe(acceptAsked);
    expect((await dwm(repo.path, "approve", runId, "human-gate-accept")).code).toBe(0);
    await runTo(repo.path, 0, runId);
    expect(await next(repo.path)).toMatchObject({
      action: "land",
      argv: expect.arrayContaining(["dwm", "land"]),
    });

    // Reopened by a recompile after completion: both human gates judged work that runs again.
    const before = await gates(repo.path);
    editPlan(repo.path, revise("architecture,gates"));
    expect((await dwm(repo.path, "compile", "workflow.plan.json")).code).toBe(0);
    g = await gates(repo.path);
    for (const id of ["human-gate-check-report", "human-gate-accept"]) {
      expect(g[id]?.state).toBe("closed");
      expect(g[id]?.digest).not.toBe(before[id]?.digest);
      expect(g[id]?.next).toMatch(
        /^reopened \(revision 3 changed list; .* will run again, so the gate is asked again\); asked when the run reaches it/,
      );
    }
    await runTo(repo.path, 4, runId);
    expect(await next(repo.path)).toMatchObject({
      action: "approve-gate",
      gate_id: "human-gate-check-report",
    });
    expect((await dwm(repo.path, "approve", runId, "human-gate-check-report")).code).toBe(0);
    await runTo(repo.path, 4, runId);
    expect((await dwm(repo.path, "approve", runId, "human-gate-accept")).code).toBe(0);
    await runTo(repo.path, 0, runId);
    // Complete: what is left is to land the result in the branch the run started from.
    expect(await next(repo.path)).toMatchObject({ action: "land" });
    expect((await dwm(repo.path, "verify", runId)).code).toBe(0);
  }, 600_000);
});
