import type { AttemptOutcome } from "@dwm/schemas";

/**
 * Attempt outcomes that say the infrastructure failed, not the work: retried with backoff and never
 * counted as a verdict on it (DESIGN.md, Review). `ok` and `task-failed` are the only outcomes that
 * judge the work. A closed list rather than "everything but ok and task-failed", so a value outside
 * the attempt schema's enum (an invocation's `not-run`, a typo) is never taken for an infrastructure
 * failure and retried.
 */
export const INFRA_OUTCOMES = [
  "timeout",
  "crashed",
  "auth-failed",
  "backend-missing",
  "rate-limited",
] as const satisfies readonly AttemptOutcome[];

/** An attempt outcome that is an infrastructure failure. */
export type InfraOutcome = (typeof INFRA_OUTCOMES)[number];

/** True for an attempt outcome that says the infrastructure failed, never the work. */
export function isInfraOutcome(outcome: string): outcome is InfraOutcome {
  return (INFRA_OUTCOMES as readonly string[]).includes(outcome);
}
