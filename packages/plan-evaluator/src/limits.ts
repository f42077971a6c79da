/**
 * Input limits of the evaluator. A workflow plan is a few kilobytes and six levels deep;
 * these bounds refuse hostile or accidental input before it costs anything.
 */
export const PLAN_LIMITS = {
  /** loadPlanFile refuses larger files before reading them (ERR_PLAN_TOO_LARGE). */
  maxBytes: 2 * 1024 * 1024,
  /** Deeper objects/arrays are refused before parsing or walking (ERR_PLAN_TOO_DEEP). */
  maxDepth: 32,
  /** The largest fan_out.max_items a plan may ask for (ERR_PLAN_FANOUT_MAX_ITEMS). */
  maxFanOutItems: 10_000,
} as const;
