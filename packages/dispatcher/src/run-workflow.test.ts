import fs from "node:fs";
import path from "node:path";
import { loadRun } from "@dwm/compiler";
import { buildApproval, readApprovalPolicy, writeApproval } from "@dwm/gate-resolver";
import { foldJournal, openJournal, readJournal, verifyRun } from "@dwm/runtime";
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

describe("runWorkflow on examples/repo-audit", () => {
  it("runs the fan-out to the human gate, completes after approval, verifies, and integrates every output", async () => {
    const ex = exampleRepo("repo-audit", ["DWM_SIDE_EFFECT_LOG"]);
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const log = path.join(wt.path, "side-effects.log");
    const runDir = ex.compiled.runDir;
    const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
    const options = {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      policy: policy && { policy, name: "dwm.policy.json" },
    };

    const first = await runWorkflow(runDir, realPorts({ DWM_SIDE_EFFECT_LOG: log }, wt.path), options);
    expect(validateSchema("run-outcome", first).ok).toBe(true);
    expect(first.detail).toBe("waiting for a decision on human-gate");
    expect(first.status).toBe("gate");
    expect(first.exit_code).toBe(4);
    expect(first.waiting_gates.map((g) => g.gate_id)).toEqual(["human-gate"]);
    expect(first.counts).toEqual({ completed: 5, reviewed: 1 });
    expect(first.this_run.approvals).toEqual(["write"]);
    expect(first.next).toEqual(["dwm", "approve", ex.compiled.runId, "human-gate"]);
    expect(verifyRun(runDir).problems).toEqual([]);

    approve(runDir, "human-gate");
    const second = await runWorkflow(runDir, realPorts({ DWM_SIDE_EFFECT_LOG: log }, wt.path), options);
    expect(second.status).toBe("complete");
    expect(second.exit_code).toBe(0);
    expect(second.this_run.attempts).toBe(0);
    expect(second.this_run.approvals).toEqual(["human-gate"]);
    expect(second.counts).toEqual({ completed: 6 });
    const verify = verifyRun(runDir);
    expect(verify.problems).toEqual([]);
    expect(verify.ok).toBe(true);

    // Every packet ran exactly once.
    expect(fs.readFileSync(log, "utf8").trim().split("\n").sort()).toEqual([
      "report",
      "scan_docs",
      "scan_lib",
      "scan_src",
    ]);
    const branch = integrationBranch(ex.compiled.runId);
    const files = git(ex.repo.path, "ls-tree", "-r", "--name-only", branch, "audit/").split("\n");
    expect(files).toEqual([
      "audit/acceptance-request.md",
      "audit/findings-docs.json",
      "audit/findings-lib.json",
      "audit/findings-src.json",
      "audit/inventory.json",
      "audit/report.md",
    ]);
    const report = git(ex.repo.path, "show", `${branch}:audit/report.md`);
    expect(report).toContain("5 finding(s) in 3 area(s): docs 1, lib 1, src 3.");
    expect(second.integration?.commit).toBe(git(ex.repo.path, "rev-parse", branch));
    const types = readJournal(runDir).events.map((e) => e.type);
    expect(types.filter((t) => t === "packet.dispatched")).toHaveLength(6);
    expect(types.filter((t) => t === "integration.merged")).toHaveLength(6);
    expect(types.at(-1)).toBe("run.completed");
  }, 60_000);

  it("a second runner on the same run is refused while the first holds the lock", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const holder = openJournal(ex.compiled.runDir, { clock: new FakeClock() });
    try {
      await expect(
        runWorkflow(ex.compiled.runDir, realPorts(), {
          repo: ex.repo.path,
          bindings: ex.bindings,
          bindingsDigest: ex.bindingsDigest,
        }),
      ).rejects.toMatchObject({ code: "ERR_RUN_LOCKED" });
    } finally {
      holder.close();
    }
  });
});
