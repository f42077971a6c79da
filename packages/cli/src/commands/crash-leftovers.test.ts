// Issue 22, crash leftovers met through the real CLI: what a killed or failing runner leaves must
// never stop the run for good (every later command refusing it as a damaged store).
import fs from "node:fs";
import path from "node:path";
import { openJournal } from "@dwm/runtime";
import {
  type FakeCliScenario,
  FakeClock,
  git,
  makeTempDir,
  pathWithFakeClis,
  type TempDir,
} from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import {
  auditRepo,
  dwmInProcess as dwm,
  exited,
  journalEvents,
  requireBuiltCli,
  runDir,
  startDwm,
  waitForEvents,
} from "../test-support/built-cli.js";
import { editJson, exampleRepo } from "../test-support/in-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

requireBuiltCli();

/** examples/repo-audit whose bindings name `refuter` (the fake claude) as the refuting reviewer. */
function auditWithReviewer(): TempDir {
  return exampleRepo("repo-audit", cleanups, (dir) =>
    editJson<{ bindings: Record<string, unknown>; reviewer?: string }>(dir, "dwm.workers.json", (b) => {
      b.bindings.refuter = { backend: "claude", pass_env: ["DWM_FAKE_CLI"] };
      b.reviewer = "refuter";
    }),
  );
}

function envFor(scenario: FakeCliScenario): Record<string, string> {
  const tmp = makeTempDir("dwm-leftovers-tmp-");
  cleanups.push(tmp.cleanup);
  return {
    PATH: pathWithFakeClis(process.env.PATH),
    TMPDIR: tmp.path,
    DWM_FAKE_CLI: JSON.stringify(scenario),
  };
}

/** The process group of `pid` (from /proc), or null when it is gone. */
function pgidOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}

async function until(what: string, f: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the refuting reviewer's attempt (reviews/<p>/<n>.reviewer/)", () => {
  it("a runner killed while the reviewer runs: commands are not refused meanwhile, and `dwm run` resumes", async () => {
    const repo = auditWithReviewer();
    const gcFile = path.join(makeTempDir("dwm-leftovers-gc-").path, "gc.pid");
    const hang = envFor({ mode: "hang", grandchildPidFile: gcFile });
    const child = startDwm(repo.path, ["run", "workflow.plan.json", "--no-sandbox"], hang);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    // The reviewer of `inventory` is running (its grandchild is up): its prompt is in the store.
    await until(
      "the reviewer to start",
      () => fs.existsSync(gcFile) && fs.readFileSync(gcFile, "utf8").trim() !== "",
    );
    const gc = Number(fs.readFileSync(gcFile, "utf8").trim());
    const group = pgidOf(gc);
    // Only the reviewer's own group (DWM starts each worker in one), never this test's.
    if (group !== null && group !== pgidOf(process.pid)) cleanups.push(() => killGroup(group));
    const runId = path.basename(runDir(repo.path));
    expect(
      fs.readdirSync(path.join(runDir(repo.path), "reviews/inventory/1.reviewer")).length,
    ).toBeGreaterThan(0);

    // While the runner lives, its reviewer's files are its work in progress, not damage.
    const approve = await dwm(repo.path, ["approve", runId, "human-gate"]);
    expect(approve.stderr).not.toContain("ERR_CLI_STORE_DAMAGED");
    expect(approve.stderr).toContain("ERR_GATE_NOT_OPEN");

    child.kill("SIGKILL");
    await exited(child);
    if (group !== null && group !== pgidOf(process.pid)) killGroup(group);
    // The dead runner's attempt folder (the reviewer's checkout and prompt) is left in the temp folder.
    const spaces = () => fs.readdirSync(hang.TMPDIR as string).filter((n) => n.startsWith("dwm-wt-"));
    expect(spaces().length).toBeGreaterThan(0);
    const reviewed = (e: { type: string; data: { packet_id?: string } }) =>
      e.type === "packet.reviewed" && e.data.packet_id === "inventory";
    expect(journalEvents(repo.path).some(reviewed)).toBe(false);

    const st = await dwm(repo.path, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(0);
    const verify = JSON.parse((await dwm(repo.path, ["verify", runId, "--json"])).stdout);
    expect(
      verify.problems
        .filter((p: { file: string }) => p.file.startsWith("reviews/"))
        .map((p: { code: string; file: string; repairable: boolean }) => [p.code, p.file, p.repairable]),
    ).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "reviews/inventory/1.reviewer", true]]);

    // The same temp folder (the worktree root), as a resumed run on this machine has.
    const again = startDwm(repo.path, ["run", runId, "--no-sandbox"], {
      ...envFor({ message: "VERDICT: approved\nFine." }),
      TMPDIR: hang.TMPDIR as string,
    });
    expect(await exited(again), again.out.join("\n")).toBe(4);
    const evs = journalEvents(repo.path);
    expect(evs.filter(reviewed).map((e) => e.data.attempt)).toEqual([1]);
    expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);
    // Recovery removed the dead runner's attempt folder (its owner is gone); the new attempts removed theirs.
    expect(spaces()).toEqual([]);
  }, 300_000);

  it("a reviewer whose attempt throws after writing its prompt: the review is left to a human and the store verifies", async () => {
    const repo = auditWithReviewer();
    expect((await dwm(repo.path, ["compile", "workflow.plan.json"])).code).toBe(0);
    const runId = path.basename(runDir(repo.path));
    // The reviewer (run without the sandbox, not honouring its read-only mode) puts a folder where
    // its attempt.json goes: the attempt throws after its prompt and output were written.
    const blocker = path.join(runDir(repo.path), "reviews/inventory/1.reviewer/attempt.json/blocker");
    const env = envFor({
      message: "VERDICT: approved",
      writes: [{ path: blocker, content: "x" }],
      ignorePermissions: true,
    });
    const child = startDwm(repo.path, ["run", runId, "--no-sandbox"], env);
    const code = await exited(child);
    const evs = journalEvents(repo.path);
    const rv = evs.find((e) => e.type === "packet.reviewed" && e.data.packet_id === "inventory");
    expect(rv, child.out.join("\n")).toBeDefined();
    const review = JSON.parse(
      fs.readFileSync(path.join(runDir(repo.path), "reviews/inventory/1.json"), "utf8"),
    );
    expect(review.verdict).toBe("needs-human");
    expect(review.findings.map((f: { code: string }) => f.code)).toContain("REVIEW_WORKER_UNAVAILABLE");
    expect(fs.existsSync(path.join(runDir(repo.path), "reviews/inventory/1.reviewer"))).toBe(false);
    const v = await dwm(repo.path, ["verify", runId]);
    expect(v.code, `${code} ${v.stdout}`).toBe(0);
  }, 300_000);
});

/** Run `f` while this process holds the run lock, as a live runner would: decisions are written, not journaled. */
async function whileLocked(repo: string, f: () => Promise<void>): Promise<void> {
  const held = openJournal(runDir(repo), { clock: new FakeClock() });
  try {
    await f();
  } finally {
    held.close();
  }
}

type Refusal = { type: string; data: { path?: string; code?: string } };
const refusals = (repo: string) =>
  (journalEvents(repo) as Refusal[])
    .filter((e) => e.type === "approval.refused")
    .map((e) => [e.data.path, e.data.code]);

describe("approvals that can never count are journaled as refused, never left to block the run", () => {
  it("reject (1.json) and approve (2.json) of one gate while a runner held the lock: the approval is refused, a runner killed after the rejection resumes", async () => {
    const repo = auditRepo(cleanups);
    const env = envFor({});
    const first = startDwm(repo.path, ["run", "workflow.plan.json", "--no-sandbox"], env);
    expect(await exited(first), first.out.join("\n")).toBe(4);
    const runId = path.basename(runDir(repo.path));
    await whileLocked(repo.path, async () => {
      expect((await dwm(repo.path, ["reject", runId, "human-gate", "--reason", "not yet"])).code).toBe(0);
      expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    });
    const dir = path.join(runDir(repo.path), "approvals", "human-gate");
    expect(fs.readdirSync(dir).sort()).toEqual(["1.json", "2.json"]);

    // The next runner counts the rejection, then is killed while the rework runs.
    const again = startDwm(repo.path, ["run", runId, "--no-sandbox"], { ...env, DWM_EXAMPLE_SLOW_MS: "400" });
    cleanups.push(() => {
      if (again.exitCode === null) again.kill("SIGKILL");
    });
    const atKill = await waitForEvents(repo.path, again, (evs) =>
      evs.some((e) => e.type === "gate.rejected"),
    );
    again.kill("SIGKILL");
    await exited(again);
    expect(atKill.filter((e) => e.type === "gate.opened")).toHaveLength(1);

    const st = await dwm(repo.path, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(0);
    const resumed = startDwm(repo.path, ["run", runId, "--no-sandbox"], env);
    expect(await exited(resumed), resumed.out.join("\n")).toBe(4);
    expect(refusals(repo.path)).toEqual([["approvals/human-gate/2.json", "ERR_GATE_NOT_OPEN"]]);
    expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const last = startDwm(repo.path, ["run", runId, "--no-sandbox"], env);
    expect(await exited(last), last.out.join("\n")).toBe(0);
    expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);
  }, 300_000);

  it("an approval written while a runner held the lock, of a gate a recompile then superseded: refused, and the run goes on", async () => {
    // examples/fan-out limited to 3 items: the run opens the fan-out limit gate (a run-time gate).
    type Plan = { phases: { id: string; command?: unknown; fan_out?: { max_items: number } }[] };
    const phase = (plan: Plan, id: string) => plan.phases.find((p) => p.id === id) as Plan["phases"][number];
    const repo = exampleRepo("fan-out", cleanups, (dir) =>
      editJson<Plan>(dir, "workflow.plan.json", (plan) => {
        (phase(plan, "measure").fan_out as { max_items: number }).max_items = 3;
      }),
    );
    const env = envFor({});
    const first = startDwm(repo.path, ["run", "workflow.plan.json"], env);
    expect(await exited(first), first.out.join("\n")).toBe(4);
    const runId = path.basename(runDir(repo.path));
    const limit = "fanout-limit/measure/1";
    await whileLocked(repo.path, async () => {
      expect((await dwm(repo.path, ["approve", runId, limit])).code).toBe(0);
    });
    // The plan changes the list and allows ten items: the limit gate asks nothing any more.
    editJson<Plan>(repo.path, "workflow.plan.json", (plan) => {
      phase(plan, "list").command = { run: ["node", "scripts/list.mjs", "--revise", "architecture"] };
      (phase(plan, "measure").fan_out as { max_items: number }).max_items = 10;
    });
    git(repo.path, "commit", "-qam", "revised plan");
    expect((await dwm(repo.path, ["compile", "workflow.plan.json"])).code).toBe(0);
    const gates = JSON.parse((await dwm(repo.path, ["gates", runId, "--json"])).stdout);
    expect(gates.gates.find((g: { gate_id: string }) => g.gate_id === limit)?.state).toBe("superseded");

    const st = await dwm(repo.path, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(0);
    const again = startDwm(repo.path, ["run", "workflow.plan.json"], env);
    expect(await exited(again), again.out.join("\n")).toBe(4);
    expect(refusals(repo.path)).toEqual([[`approvals/${limit}/1.json`, "ERR_GATE_NOT_OPEN"]]);
    expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);
  }, 300_000);
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // gone already
  }
}
