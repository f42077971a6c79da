import type { Budget } from "./budget.js";
import type { RunSetup } from "./open-run.js";
import type { RunLog } from "./run-log.js";
import type { StopControl } from "./stop.js";

/**
 * What every part of the loop shares, passed to each explicitly: the run's fixed setup, the
 * journal it appends to, the budget the frontier is computed with, and the stop control.
 */
export interface RunContext {
  readonly setup: RunSetup;
  readonly log: RunLog;
  readonly budget: Budget;
  readonly stop: StopControl;
}
