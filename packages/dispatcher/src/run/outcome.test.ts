import { describe, expect, it } from "vitest";
import { frontierOf, gateState, runState } from "../test-support/builders.js";
import { EXIT_OF, nextCommand, waitingGates } from "./outcome.js";

describe("nextCommand: the operator's next step", () => {
  it("nothing after a complete run", () => {
    expect(nextCommand("complete", "r1", "human-gate", "a")).toBeNull();
    // A run that recorded the branch it started from: land its result there.
    expect(nextCommand("complete", "r1", undefined, undefined, "main")).toEqual(["dwm", "land", "r1"]);
  });

  it("approve the first waiting gate at a gate; read the first failure's log after a failure", () => {
    expect(nextCommand("gate", "r1", "human-gate", undefined)).toEqual([
      "dwm",
      "approve",
      "r1",
      "human-gate",
    ]);
    expect(nextCommand("failed", "r1", undefined, "scan")).toEqual(["dwm", "log", "r1", "--packet", "scan"]);
  });

  it("run again otherwise: budget, interrupt, or a stop with nothing to point at", () => {
    for (const s of ["budget", "interrupted"] as const)
      expect(nextCommand(s, "r1", "human-gate", "scan")).toEqual(["dwm", "run", "r1"]);
    expect(nextCommand("gate", "r1", undefined, undefined)).toEqual(["dwm", "run", "r1"]);
    expect(nextCommand("failed", "r1", undefined, undefined)).toEqual(["dwm", "run", "r1"]);
  });
});

describe("EXIT_OF", () => {
  it("is dwm run's exit status of each outcome", () => {
    expect(EXIT_OF).toEqual({ complete: 0, gate: 4, budget: 5, failed: 1, interrupted: 1 });
  });
});

describe("waitingGates", () => {
  it("a compiled gate: its category and, until it opened, its compiled packets; a run-time gate: human-review", () => {
    const loaded = {
      gates: new Map([["write", { category: "write", packets: ["a", "b"] }]]),
    } as unknown as Parameters<typeof waitingGates>[2]["loaded"];
    const state = runState({}, { "merge-conflict/a/1": gateState({ state: "open", packets: ["a"] }) });
    const f = frontierOf({ status: "gate", waiting_gates: ["write", "merge-conflict/a/1", "custom"] });
    expect(waitingGates(f, state, { loaded, runId: "r1" })).toEqual([
      {
        gate_id: "write",
        category: "write",
        packets: ["a", "b"],
        approve_argv: ["dwm", "approve", "r1", "write"],
      },
      {
        gate_id: "merge-conflict/a/1",
        category: "human-review",
        packets: ["a"],
        approve_argv: ["dwm", "approve", "r1", "merge-conflict/a/1"],
      },
      { gate_id: "custom", category: null, packets: [], approve_argv: ["dwm", "approve", "r1", "custom"] },
    ]);
  });
});
