// safe_default semantics as documented: `skip` skips the packets a gate holds while it is not
// approved and the rest of the plan goes on without them (recorded, shown in status); `ask` waits
// for the operator's own decision even under --approve or a policy file; `stop` stops.
import fs from "node:fs";
import path from "node:path";
import type { GatesReport, NextStep, StatusReport } from "@dwm/schemas";
import { git, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { dwmInProcess, editJson, exampleRepo } from "../test-support/in-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface RiskGate {
  trigger: string;
  safe_default: unknown;
  requires_user_approval: boolean;
}
interface Plan {
  phases: { id: string; [k: string]: unknown }[];
  workers: { id: string; [k: string]: unknown }[];
  risk_gates: RiskGate[];
}

/** examples/fan-out in a fresh repository, plan and bindings changed by `edit`. */
function fanOut(edit: (plan: Plan, bindings: { bindings: Record<string, unknown> }) => void): TempDir {
  return exampleRepo("fan-out", cleanups, (dir) =>
    editJson<{ bindings: Record<string, unknown> }>(dir, "dwm.workers.json", (bindings) =>
      editJson<Plan>(dir, "workflow.plan.json", (plan) => edit(plan, bindings)),
    ),
  );
}

/** A side phase `notify` after the report (nothing depends on it) whose worker needs the network. */
function withNotify(action: string) {
  return (plan: Plan, bindings: { bindings: Record<string, unknown> }) => {
    const worker = structuredClone(plan.workers[0] as Plan["workers"][number]);
    Object.assign(worker, {
      id: "notify-worker",
      role: "Tell the docs channel the report is ready",
      ownership: ["notify/"],
      tool_permissions: {
        mcp_connectors: [],
        network: true,
        read: true,
        requires_escalation_for: [],
        shell: false,
        write: false,
      },
      prompt_contract: {
        inputs: ["reports/summary.md"],
        required_output_schema: "notify/sent.json",
        stop_conditions: ["the report is missing"],
      },
    });
    plan.workers.push(worker);
    const accept = plan.phases.findIndex((p) => p.id === "accept");
    plan.phases.splice(accept, 0, {
      id: "notify",
      name: "Announce the report",
      depends_on: ["report"],
      entry_criteria: ["reports/summary.md exists"],
      exit_criteria: ["notify/sent.json records the announcement"],
      outputs: ["notify/sent.json"],
      worker_ids: ["notify-worker"],
    });
    plan.risk_gates.push({
      trigger: "network access",
      safe_default: { action, before: "network" },
      requires_user_approval: true,
    });
    bindings.bindings["notify-worker"] = {
      backend: "shell",
      argv: [
        "node",
        "-e",
        "require('fs').mkdirSync('notify',{recursive:true});require('fs').writeFileSync('notify/sent.json','{}\\n')",
      ],
    };
  };
}

async function dwm(cwd: string, ...argv: string[]) {
  const wt = makeTempDir("dwm-safe-default-wt-");
  cleanups.push(wt.cleanup);
  return dwmInProcess(cwd, argv, wt.path);
}
const json = async <T>(cwd: string, ...argv: string[]) =>
  JSON.parse((await dwm(cwd, ...argv, "--json")).stdout) as T;
const journal = (repo: string) => {
  const runs = path.join(repo, ".dwm", "runs");
  const [run] = fs.readdirSync(runs);
  return fs
    .readFileSync(path.join(runs, run as string, "journal.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
};

describe("safe_default skip", () => {
  it("the held packet is skipped and recorded, the run completes without it; approving the gate later does it", async () => {
    const repo = fanOut(withNotify("skip"));
    expect((await dwm(repo.path, "run", "workflow.plan.json")).code).toBe(4);
    const runId = (await json<NextStep>(repo.path, "next")).run_id;
    expect(
      journal(repo.path)
        .filter((e) => e.type === "packet.skipped")
        .map((e) => e.data),
    ).toEqual([
      {
        packet_id: "notify",
        gates: ["network"],
        upstream: [],
        reason: "network not approved, and the plan's safe default is to skip it",
      },
    ]);
    const status = await json<StatusReport>(repo.path, "status");
    expect(status.packets.find((p) => p.packet_id === "notify")?.state).toBe("skipped");
    const network = (await json<GatesReport>(repo.path, "gates")).gates.find((g) => g.gate_id === "network");
    expect(network).toMatchObject({ state: "closed", waiting: false });
    expect(network?.next).toBe(
      `not approved, so the run goes on without what it holds (safe default skip); to do that work, dwm approve ${runId} network and dwm run ${runId}`,
    );

    // The rest of the plan goes on: the acceptance, then the run is complete without notify.
    expect((await dwm(repo.path, "approve", runId, "human-gate-accept")).code).toBe(0);
    expect((await dwm(repo.path, "run", runId)).code).toBe(0);
    expect(await json<NextStep>(repo.path, "next")).toMatchObject({
      action: "complete",
      reason:
        "every packet is completed and merged, but notify was skipped (a gate whose safe default is skip was not approved): approve that gate (dwm gates shows it) and run again to do it",
    });

    // Approving the gate afterwards brings it back.
    expect((await dwm(repo.path, "approve", runId, "network")).code).toBe(0);
    expect(await json<NextStep>(repo.path, "next")).toMatchObject({
      action: "run",
      reason: "notify was skipped, and nothing skips it any more; running does the work",
    });
    expect((await dwm(repo.path, "run", runId)).code).toBe(0);
    const after = await json<StatusReport>(repo.path, "status");
    expect(after.packets.find((p) => p.packet_id === "notify")?.state).toBe("completed");
    expect((await dwm(repo.path, "verify", runId)).code).toBe(0);
  }, 300_000);
});

describe("safe_default ask and stop", () => {
  it("ask: neither the policy file nor --approve approves it; the run waits for dwm approve", async () => {
    const repo = fanOut((plan) => {
      const shell = plan.risk_gates.find((g) => g.trigger === "shell command execution") as RiskGate;
      shell.safe_default = { action: "ask", before: "shell-process" };
    });
    // The example's policy lists shell-process, and so does --approve.
    const r = await dwm(repo.path, "run", "workflow.plan.json", "--approve", "shell-process");
    expect(r.code).toBe(4);
    const next = await json<NextStep>(repo.path, "next");
    expect(next).toMatchObject({ action: "approve-gate", gate_id: "shell-process" });
    const approved = journal(repo.path)
      .filter((e) => e.type === "gate.approved")
      .map((e) => e.data.gate_id);
    expect(approved).toEqual(["write"]);
    expect((await dwm(repo.path, "approve", next.run_id, "shell-process")).code).toBe(0);
    expect((await dwm(repo.path, "run", next.run_id)).code).toBe(4);
    expect(await json<NextStep>(repo.path, "next")).toMatchObject({ gate_id: "human-gate-accept" });
  }, 300_000);

  it("stop: without an approval the run stops at the gate; --approve lets it go on", async () => {
    const repo = fanOut(() => {});
    fs.rmSync(path.join(repo.path, "dwm.policy.json"));
    git(repo.path, "commit", "-qam", "no policy");
    expect((await dwm(repo.path, "run", "workflow.plan.json")).code).toBe(4);
    const next = await json<NextStep>(repo.path, "next");
    expect(next).toMatchObject({ action: "approve-gate", gate_id: "shell-process" });
    expect(journal(repo.path).filter((e) => e.type === "packet.dispatched")).toEqual([]);
    expect((await dwm(repo.path, "run", next.run_id, "--approve", "write,shell-process")).code).toBe(4);
    expect(await json<NextStep>(repo.path, "next")).toMatchObject({ gate_id: "human-gate-accept" });
  }, 300_000);
});
