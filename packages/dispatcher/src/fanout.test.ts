import path from "node:path";
import { loadRun } from "@dwm/compiler";
import { buildApproval, readApprovalPolicy, writeApproval } from "@dwm/gate-resolver";
import { foldJournal, readJournal, verifyRun } from "@dwm/runtime";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { integrationBranch } from "./integration.js";
import { runWorkflow } from "./run-workflow.js";
import { exampleRepo, realPorts } from "./test-support/example.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function approve(runDir: string, gateId: string) {
  const loaded = loadRun(runDir);
  const state = foldJournal(readJournal(runDir).events, loaded.run);
  const approval = buildApproval(state, loaded, {
    gateId,
    decision: "approve",
    reason: "looks right",
    approver: { name: "Test Operator", source: "os-user" },
    clock: new FakeClock("2026-01-01T01:00:00.000Z"),
  });
  return writeApproval(runDir, approval);
}

function dispatched(runDir: string): string[] {
  return readJournal(runDir)
    .events.filter((e) => e.type === "packet.dispatched")
    .map((e) => (e.data as { packet_id: string }).packet_id);
}

describe("runWorkflow: fan-out (examples/fan-out)", () => {
  it("expands the list into item packets, runs the per-item pipeline, reduces, stops at the gate phase, completes", async () => {
    const ex = exampleRepo("fan-out");
    const wt = makeTempDir("dwm-wt-fan-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const runDir = ex.compiled.runDir;
    const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
    const options = {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      policy: policy && { policy, name: "dwm.policy.json" },
    };
    const first = await runWorkflow(runDir, realPorts({}, wt.path), options);
    expect(validateSchema("run-outcome", first).problems).toEqual([]);
    expect(first.detail).toBe("waiting for a decision on human-gate-accept");
    expect(first.counts).toEqual({ completed: 14, expanded: 2, pending: 1 });
    expect(verifyRun(runDir).problems).toEqual([]);

    const { events } = readJournal(runDir);
    const ex1 = events.find((e) => e.type === "fanout.expanded");
    if (ex1?.type !== "fanout.expanded") throw new Error("no fanout.expanded");
    expect(ex1.data.handoff.items).toBe(6);
    expect(ex1.data.packets).toHaveLength(12);
    expect(ex1.data.files).toHaveLength(12);
    expect(ex1.data.packets[0]?.packet_id).toMatch(/^measure\/architecture-[0-9a-f]{8}$/);
    // every item packet ran exactly once, then the reduce
    const d = dispatched(runDir);
    expect(d.filter((id) => id.startsWith("measure/"))).toHaveLength(6);
    expect(new Set(d).size).toBe(d.length);
    expect(d.at(-1)).toBe("report");

    // the reduce saw every item's grade as one list; the items' outputs are on the integration branch
    const branch = integrationBranch(ex.compiled.runId);
    const report = git(ex.repo.path, "show", `${branch}:reports/summary.md`);
    expect(report).toContain("6 documents graded.");
    expect(report).toMatch(/\| architecture \| 1 \| \d+ \| [ABC] \|/);
    const measured = git(ex.repo.path, "ls-tree", "-r", "--name-only", branch, "measure/").split("\n");
    expect(measured).toHaveLength(6);

    approve(runDir, "human-gate-accept");
    const second = await runWorkflow(runDir, realPorts({}, wt.path), options);
    expect(second.status).toBe("complete");
    expect(second.this_run.attempts).toBe(0);
    expect(verifyRun(runDir).ok).toBe(true);
  }, 120_000);
});
