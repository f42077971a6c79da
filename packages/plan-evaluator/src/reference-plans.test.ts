// Every 0.5 reference plan must evaluate exactly as it did before schema 0.6: the same
// problems, decision, scores and capability coverage. The expected scorecards were
// recorded in fixtures/plan-evaluator/reference-scorecards.json before the 0.6 rules
// were written; each entry carries the plan's digest, so a changed plan is reported as
// such rather than as a changed evaluation.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { leftOut, referencePlansDir, requirePart } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { evaluatePlan } from "./index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// Beside the checkout (../shared), where this machine keeps them, or DWM_REFERENCE_PLANS
// (@dwm/test-utils' referencePlansDir); skipped only when the user left them out (DWM_TEST_SKIP).
const referenceDir = referencePlansDir();
const goldenFile = `${root}fixtures/plan-evaluator/reference-scorecards.json`;

function comparable(file: string) {
  const sc = evaluatePlan(JSON.parse(fs.readFileSync(path.join(referenceDir ?? "", file), "utf8")));
  return {
    plan_schema_version: sc.plan_schema_version,
    plan_digest: sc.plan_digest,
    valid: sc.valid,
    decision: sc.decision,
    downgrade_target: sc.downgrade_target,
    problems: sc.problems,
    scores: sc.scores,
    score_average: sc.score_average,
    summary: sc.summary,
    capabilities: sc.capabilities,
  };
}

describe.skipIf(leftOut("reference-plans"))("0.5 reference plans evaluate as before 0.6", () => {
  const files = referenceDir
    ? fs
        .readdirSync(referenceDir)
        .filter((f) => f.endsWith(".json"))
        .sort()
    : [];
  if (process.env.DWM_UPDATE_GOLDEN === "1") {
    const all = Object.fromEntries(files.map((f) => [f, comparable(f)]));
    fs.writeFileSync(goldenFile, `${JSON.stringify(all, null, 2)}\n`);
  }
  const golden = JSON.parse(fs.readFileSync(goldenFile, "utf8")) as Record<
    string,
    ReturnType<typeof comparable>
  >;

  it("the recording covers every reference plan", () => {
    requirePart("reference-plans");
    expect(Object.keys(golden).sort()).toEqual(files);
  });

  it.each(files)("%s", (f) => {
    const now = comparable(f);
    const want = golden[f];
    expect(now.plan_digest, `${f} itself changed since the recording`).toBe(want?.plan_digest);
    expect(now).toEqual(want);
  });
});
