import { defineErrors } from "@dwm/core";

/** Errors of @dwm/scheduler. */
export const schedulerErrors = defineErrors({
  ERR_SCHEDULER_POLICY_INVALID: {
    title: "A frontier policy value is not usable (a cap below 1, a negative budget).",
    hint: "Pass whole numbers: --concurrency ≥ 1, --max-attempts ≥ 0, --token-budget ≥ 0; --budget-usd a number ≥ 0.",
  },
  ERR_SCHEDULER_RUN_MISMATCH: {
    title: "The state and the run given to computeFrontier belong to different runs.",
    hint: "Fold the journal of the same run directory the run was loaded from.",
  },
  ERR_SCHEDULER_TRACKER_DIVERGED: {
    title: "The frontier a FrontierTracker kept differs from computeFrontier's (a bug in DWM).",
    hint: "Report it with the run directory; set DWM_CHECK_FRONTIER=0 or leave it unset to run without the check.",
  },
});
