import type { RunState } from "@dwm/schemas";

/** Attempt outcomes that are infrastructure failures. */
export type InfraOutcome = "timeout" | "crashed" | "auth-failed" | "backend-missing" | "rate-limited";

/** How infrastructure failures are retried. Never counted against budget.max_retries. */
export interface InfraRetryPolicy {
  /** Retries per packet (infra.retry-scheduled events it may have). Default 3. */
  max_retries: number;
  /** Delay before retry k (1-based) is delays_ms[k-1]; the last value repeats. Default [30 s, 2 min, 10 min]. */
  delays_ms: readonly number[];
  /** Outcomes worth retrying; the others stop the run for the operator. Default timeout, crashed, rate-limited. */
  retry_outcomes: readonly InfraOutcome[];
}

export const DEFAULT_INFRA_RETRY_POLICY: InfraRetryPolicy = {
  max_retries: 3,
  delays_ms: [30_000, 120_000, 600_000],
  retry_outcomes: ["timeout", "crashed", "rate-limited"],
};

export type InfraRetryDecision =
  | { retry: true; retry_number: number; delay_ms: number; not_before: string }
  | { retry: false; reason: string };

/**
 * Whether and when to retry a packet whose attempt failed for infrastructure reasons,
 * from the packet's `infra_retries` count in the state. Pure: `now` is an RFC 3339
 * time from the caller's clock; `not_before` = now + delay. `minDelayMs` (the delay a
 * rate-limited endpoint advertised, the attempt's `retry_after_ms`) raises the delay.
 */
export function nextInfraRetry(
  state: RunState,
  packetId: string,
  policy: InfraRetryPolicy,
  now: string,
  outcome?: InfraOutcome,
  minDelayMs?: number | null,
): InfraRetryDecision {
  const p = state.packets[packetId];
  if (!p) return { retry: false, reason: `run ${state.run_id} has no packet ${packetId}` };
  const o = outcome ?? (p.last_outcome as InfraOutcome | null) ?? null;
  if (o !== null && !policy.retry_outcomes.includes(o)) {
    return {
      retry: false,
      reason: `${o} is not retried automatically: fix the backend (login, installation), then run again`,
    };
  }
  const n = p.infra_retries + 1;
  if (n > policy.max_retries) {
    return {
      retry: false,
      reason: `${o ?? "infrastructure failure"}: ${p.infra_retries} retr${p.infra_retries === 1 ? "y" : "ies"} already spent (policy max_retries ${policy.max_retries})`,
    };
  }
  const delays = policy.delays_ms;
  const delay = Math.max(
    delays.length === 0 ? 0 : (delays[Math.min(n, delays.length) - 1] ?? 0),
    minDelayMs ?? 0,
  );
  return {
    retry: true,
    retry_number: n,
    delay_ms: delay,
    not_before: new Date(Date.parse(now) + delay).toISOString(),
  };
}
