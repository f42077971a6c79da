import path from "node:path";
import { isDwmError } from "@dwm/core";
import { readApprovalPolicy } from "@dwm/gate-resolver";
import { readJournal, verifyRun } from "@dwm/runtime";
import { makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { runWorkflow } from "./run-workflow.js";
import { exampleRepo, realPorts } from "./test-support/example.js";
import { OPERATOR } from "./test-support/operator.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function optionsOf(ex: ReturnType<typeof exampleRepo>) {
  const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
  return {
    repo: ex.repo.path,
    bindings: ex.bindings,
    bindingsDigest: ex.bindingsDigest,
    operator: OPERATOR,
    policy: policy && { policy, name: "dwm.policy.json" },
  };
}

describe("runWorkflow with a USD budget", () => {
  it("stops with status budget before dispatching once the priced attempts reach --budget-usd, and a resume counts what history spent", async () => {
    const ex = exampleRepo("repo-audit");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const priced: string[] = [];
    const costOf = (a: { packet_id: string }) => {
      priced.push(a.packet_id);
      return 0.6;
    };
    const options = { ...optionsOf(ex), concurrency: 1, usdBudget: 1, costOf };
    const out = await runWorkflow(ex.compiled.runDir, realPorts({}, wt.path), options);
    expect(out.status).toBe("budget");
    expect(out.exit_code).toBe(5);
    expect(out.detail).toBe("USD budget spent: $1.20 of $1");
    const recorded = () =>
      readJournal(ex.compiled.runDir).events.filter((e) => e.type === "attempt.recorded").length;
    expect(recorded()).toBe(2);
    // A resume reads the spend of its history (two attempts at $0.60) and dispatches nothing more.
    const again = await runWorkflow(ex.compiled.runDir, realPorts({}, wt.path), options);
    expect(again.status).toBe("budget");
    expect(recorded()).toBe(2);
    // With a larger budget the run goes on from where it stopped.
    const more = await runWorkflow(ex.compiled.runDir, realPorts({}, wt.path), { ...options, usdBudget: 2 });
    expect(more.status).toBe("budget");
    expect(recorded()).toBe(4);
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
  }, 240_000);

  it("an attempt that cannot be priced counts nothing against the budget", async () => {
    const ex = exampleRepo("repo-audit");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const out = await runWorkflow(ex.compiled.runDir, realPorts({}, wt.path), {
      ...optionsOf(ex),
      usdBudget: 0.5,
      costOf: () => null,
    });
    expect(out.status).not.toBe("budget");
  }, 240_000);

  it("refuses a USD budget without a pricer, or one that is not a number ≥ 0", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    for (const bad of [
      { usdBudget: 1 },
      { usdBudget: -1, costOf: () => 0 },
      { usdBudget: Number.NaN, costOf: () => 0 },
    ]) {
      const err = await runWorkflow(ex.compiled.runDir, realPorts({}), { ...optionsOf(ex), ...bad }).catch(
        (e: unknown) => e,
      );
      expect(isDwmError(err) && err.code).toBe("ERR_DISPATCH_OPTION_INVALID");
    }
    expect(readJournal(ex.compiled.runDir).events).toEqual([]);
  }, 60_000);
});
