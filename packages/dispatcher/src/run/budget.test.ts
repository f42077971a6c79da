import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { OPERATOR } from "../test-support/operator.js";
import { Budget } from "./budget.js";

describe("Budget", () => {
  const setup = {
    options: {
      repo: "/r",
      operator: OPERATOR,
      bindings: {},
      bindingsDigest: "sha256:x",
      concurrency: 3,
      maxAttempts: 10,
    },
    limits: { concurrencyCap: 2, maxAgents: 4 },
  } as unknown as ConstructorParameters<typeof Budget>[0];

  it("the frontier policy: the operator's limits, the plan's, tokens spent, held packets, now", () => {
    const b = new Budget(setup, new FakeClock("2026-01-01T00:00:00.000Z"));
    b.spend(120);
    b.spend(30);
    b.holdUntil("scan", "2026-01-01T00:00:05.000Z");
    expect(b.policy()).toEqual({
      concurrency: 3,
      planConcurrencyCap: 2,
      maxAgents: 4,
      maxAttempts: 10,
      tokenBudget: null,
      tokensUsed: 150,
      notBefore: { scan: "2026-01-01T00:00:05.000Z" },
      now: "2026-01-01T00:00:00.000Z",
    });
  });

  it("holdUntil(null) releases a packet; msUntilRetry is the earliest wait (Infinity when none)", () => {
    const b = new Budget(setup, new FakeClock("2026-01-01T00:00:00.000Z"));
    expect(b.msUntilRetry()).toBe(Number.POSITIVE_INFINITY);
    b.holdUntil("a", "2026-01-01T00:00:05.000Z");
    b.holdUntil("b", "2026-01-01T00:00:02.000Z");
    expect(b.msUntilRetry()).toBe(2000);
    b.holdUntil("b", null);
    expect(b.notBefore).toEqual({ a: "2026-01-01T00:00:05.000Z" });
    expect(b.msUntilRetry()).toBe(5000);
  });
});
