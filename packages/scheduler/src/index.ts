export type { FrontierPolicy, FrontierRun } from "./compute-frontier.js";
export { computeFrontier, concurrencyCap, planLimits } from "./compute-frontier.js";
export { schedulerErrors } from "./errors.js";
export { type FrontierSummary, FrontierTracker } from "./tracker.js";
