// The operator of this package's tests: a fixed trusted key, and decisions signed with it.
import { loadRun } from "@dwm/compiler";
import type { Clock } from "@dwm/core";
import { buildApproval, type StoredApproval, writeApproval } from "@dwm/gate-resolver";
import { foldJournal, readJournal } from "@dwm/runtime";
import type { Approval } from "@dwm/schemas";
import { FakeClock, git, testOperatorKey, testTrust } from "@dwm/test-utils";
import { integrationBranch } from "../integration.js";
import type { RunWorkflowOptions } from "../run/types.js";

/** The test operator's key and a trust store holding it (what runWorkflow's options take). */
export const OPERATOR: RunWorkflowOptions["operator"] = { key: testOperatorKey(), trust: testTrust() };

/** The head an approval is bound to: the integration branch's, else the run's base commit. */
export function approvalHeadOf(repo: string, runId: string, baseCommit: string | null): string | null {
  try {
    return git(repo, "rev-parse", "--verify", "--quiet", `refs/heads/${integrationBranch(runId)}^{commit}`);
  } catch {
    return baseCommit;
  }
}

/** What `dwm approve` / `dwm reject` does, as the test operator: build, sign and write the decision. */
export function decideAsOperator(
  runDir: string,
  repo: string,
  d: {
    gate: string;
    decision?: Approval["decision"];
    reason?: string;
    packets?: string[];
    clock?: Clock;
  },
): StoredApproval {
  const loaded = loadRun(runDir);
  const state = foldJournal(readJournal(runDir).events, loaded.run);
  const approval = buildApproval(state, loaded, {
    gateId: d.gate,
    decision: d.decision ?? "approve",
    reason: d.reason ?? "looks right",
    packets: d.packets ?? [],
    approver: { name: "Test Operator", source: "os-user" },
    keyId: OPERATOR.key.keyId,
    integrationHead: approvalHeadOf(repo, loaded.run.run_id, loaded.run.base_commit),
    clock: d.clock ?? new FakeClock("2026-01-01T01:00:00.000Z"),
  });
  return writeApproval(runDir, approval, OPERATOR.key);
}
