import type { Clock } from "@dwm/core";
import type { FrontierPolicy } from "@dwm/scheduler";
import type { RunSetup } from "./open-run.js";

/**
 * What the run may still spend and when held packets may go again: the token count of its
 * whole history, the infrastructure retries waiting for their time, and the operator's
 * limits. The frontier policy every frontier of the loop is computed with.
 */
export class Budget {
  /** Tokens the run's whole history spent (attempts whose backend reports them). */
  tokensUsed = 0;
  /** US dollars the run's whole history spent, as the caller's costOf priced its attempts. */
  usdSpent = 0;
  /** Packets waiting for an infrastructure retry: packet id → RFC 3339 not-before. */
  readonly notBefore: Record<string, string> = {};

  constructor(
    private readonly setup: Pick<RunSetup, "options" | "limits">,
    private readonly clock: Clock,
  ) {}

  /** The scheduler's policy now (reads the clock once). */
  policy(): FrontierPolicy {
    const { options, limits } = this.setup;
    return {
      concurrency: options.concurrency ?? null,
      planConcurrencyCap: limits.concurrencyCap,
      maxAgents: limits.maxAgents,
      maxAttempts: options.maxAttempts ?? null,
      tokenBudget: options.tokenBudget ?? null,
      tokensUsed: this.tokensUsed,
      ...(options.usdBudget !== undefined ? { usdBudget: options.usdBudget, usdSpent: this.usdSpent } : {}),
      notBefore: this.notBefore,
      now: this.clock.now(),
    };
  }

  /** An attempt's tokens and dollars, counted against the token and USD budgets. */
  spend(tokens: number, usd = 0): void {
    this.tokensUsed += tokens;
    this.usdSpent += usd;
  }

  /** A packet waits for its retry until `notBefore`; null: it waits for nothing. */
  holdUntil(packetId: string, notBefore: string | null): void {
    if (notBefore === null) delete this.notBefore[packetId];
    else this.notBefore[packetId] = notBefore;
  }

  /** Milliseconds until the earliest retry is due (negative when overdue; Infinity when none waits). */
  msUntilRetry(): number {
    const now = Date.parse(this.clock.now());
    return Math.min(...Object.values(this.notBefore).map((t) => Date.parse(t) - now));
  }
}
