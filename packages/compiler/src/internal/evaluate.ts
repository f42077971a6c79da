import * as evaluator from "@dwm/plan-evaluator";

/** The scorecard fields the compiler relies on (docs/internals.md, @dwm/plan-evaluator). */
export interface ScorecardView {
  kind: "scorecard";
  valid: boolean;
  decision: "activate" | "downgrade" | null;
  downgrade_target: string | null;
  plan_id: string | null;
  plan_digest: string | null;
  plan_schema_version: string | null;
  problems: { code: string; pointer: string; message: string; hint?: string }[];
  [k: string]: unknown;
}

type EvaluatePlan = (plan: unknown, options?: { source?: string }) => ScorecardView;

/** Evaluate a plan with @dwm/plan-evaluator. No source path is passed, so the scorecard stays reproducible. */
export function evaluate(plan: unknown): ScorecardView {
  const fn = (evaluator as unknown as { evaluatePlan?: EvaluatePlan }).evaluatePlan;
  if (typeof fn !== "function") throw new Error("@dwm/plan-evaluator does not export evaluatePlan");
  return fn(plan);
}
