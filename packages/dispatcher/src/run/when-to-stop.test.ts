import { describe, expect, it } from "vitest";
import { frontierOf, packetState, runState } from "../test-support/builders.js";
import { decideWhenIdle, describeStop } from "./when-to-stop.js";

const run = { runId: "r1", failure: null, until: undefined };

describe("decideWhenIdle: what the loop does when nothing is in flight", () => {
  it("a failure stops the run as failed with its reason, whatever the frontier says", () => {
    expect(
      decideWhenIdle(frontierOf({ status: "complete" }), { ...run, failure: "a attempt 1: ERR_X: boom" }),
    ).toEqual({ kind: "stop", status: "failed", detail: "a attempt 1: ERR_X: boom" });
  });

  it("a complete frontier completes the run", () => {
    expect(decideWhenIdle(frontierOf({ status: "complete" }), run)).toEqual({
      kind: "stop",
      status: "complete",
      detail: "every packet of r1 is completed",
    });
  });

  it("running: another turn; waiting: wait for the infrastructure retry", () => {
    expect(decideWhenIdle(frontierOf({ status: "running" }), run)).toEqual({ kind: "go-on" });
    expect(decideWhenIdle(frontierOf({ status: "waiting" }), run)).toEqual({ kind: "wait-retry" });
  });

  it("a gate stops the run (until=gate, the default) or waits for a decision (until=complete)", () => {
    const gate = frontierOf({ status: "gate" });
    expect(decideWhenIdle(gate, run)).toEqual({ kind: "stop", status: "gate", detail: null });
    expect(decideWhenIdle(gate, { ...run, until: "gate" })).toEqual({
      kind: "stop",
      status: "gate",
      detail: null,
    });
    expect(decideWhenIdle(gate, { ...run, until: "complete" })).toEqual({ kind: "wait-decision" });
  });

  it("a spent budget stops the run as budget, even with until=complete; a failed frontier as failed", () => {
    expect(decideWhenIdle(frontierOf({ status: "budget" }), { ...run, until: "complete" })).toEqual({
      kind: "stop",
      status: "budget",
      detail: null,
    });
    expect(decideWhenIdle(frontierOf({ status: "failed" }), run)).toEqual({
      kind: "stop",
      status: "failed",
      detail: null,
    });
  });
});

describe("describeStop", () => {
  const state = runState({ b: packetState({ state: "failed", reason: "retries spent" }), c: packetState() });

  it("names the gates waited on", () => {
    expect(describeStop(frontierOf({ status: "gate", waiting_gates: ["human-gate", "write"] }), state)).toBe(
      "waiting for a decision on human-gate, write",
    );
  });

  it("names the budget that is spent", () => {
    const budget = frontierOf().budget;
    expect(
      describeStop(
        frontierOf({
          status: "budget",
          budget: { ...budget, exhausted: "tokens", tokens_used: 120, token_budget: 100 },
        }),
        state,
      ),
    ).toBe("token budget spent: 120 of 100");
    expect(
      describeStop(
        frontierOf({
          status: "budget",
          budget: { ...budget, exhausted: "attempts", attempts_used: 3, max_attempts: 3 },
        }),
        state,
      ),
    ).toBe("attempt budget spent: 3 of 3");
  });

  it("names failed packets with their reasons, else what holds the others", () => {
    expect(describeStop(frontierOf({ status: "failed", failed: ["b", "x"] }), state)).toBe(
      "failed: b (retries spent); x (failed)",
    );
    expect(
      describeStop(
        frontierOf({
          status: "failed",
          blocked: [{ packet_id: "c", reason: "upstream-failed", detail: "b failed", waiting_on: ["b"] }],
        }),
        state,
      ),
    ).toBe("nothing can run: c: b failed");
    expect(describeStop(frontierOf({ status: "failed" }), state)).toBe("nothing can run");
  });
});
