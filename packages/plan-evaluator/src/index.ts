export type { PlanErrorCode } from "./errors.js";
export { planEvaluatorErrors } from "./errors.js";
export type { EvaluateOptions } from "./evaluate-plan.js";
export { evaluatePlan } from "./evaluate-plan.js";
export {
  downgradeInstruction,
  EXCLUSIVE_THRESHOLDS,
  REPOSITORY_INPUT,
  SUPPORTING_THRESHOLDS,
} from "./internal/rules.js";
export { safeDefaultProblem, words } from "./internal/words.js";
export { PLAN_LIMITS } from "./limits.js";
export type { LoadedPlan, LoadPlanOptions } from "./load-plan-file.js";
export { loadPlanFile, parsePlanBytes } from "./load-plan-file.js";
export { renderBlueprint } from "./render-blueprint.js";
export { EVALUATOR_VERSION } from "./version.js";
