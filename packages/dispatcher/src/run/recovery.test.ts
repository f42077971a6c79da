import { describe, expect, it } from "vitest";
import { packetState, runState } from "../test-support/builders.js";
import { inFlightJobIds, recoveryAction } from "./recovery.js";

describe("recoveryAction: what resuming does with a packet a dead runner left", () => {
  const none = new Set<string>();

  it("a dispatched attempt nothing runs any more is abandoned (and dispatched again later)", () => {
    expect(recoveryAction("r", "scan", packetState({ state: "dispatched", attempts: 2 }), none)).toEqual({
      kind: "abandon",
      attempt: 2,
      reason: "attempt 2 was in flight when its runner stopped",
    });
  });

  it("a dispatched attempt the queue still holds is kept, matched by its job id", () => {
    const p = packetState({ state: "dispatched", attempts: 2 });
    expect(recoveryAction("r", "scan", p, new Set(["r/scan/2"]))).toEqual({ kind: "keep" });
    // A job of another attempt of the same packet does not keep this one.
    expect(recoveryAction("r", "scan", p, new Set(["r/scan/1"])).kind).toBe("abandon");
  });

  it("a dispatched attempt whose job the queue refused (not the journal's attempt) is abandoned, the refusal in its journaled reason", () => {
    const p = packetState({ state: "dispatched", attempts: 2 });
    const refused = new Map([
      [
        "r/scan/2",
        {
          code: "ERR_QUEUE_JOB_FOREIGN",
          message:
            "job r/i/scan/2 in the queue is not the attempt the journal dispatched: the base commit is b, not a",
        },
      ],
    ]);
    expect(recoveryAction("r", "scan", p, none, refused)).toEqual({
      kind: "abandon",
      attempt: 2,
      reason:
        "attempt 2 was in flight when its runner stopped; the queue's job for it was refused: ERR_QUEUE_JOB_FOREIGN: job r/i/scan/2 in the queue is not the attempt the journal dispatched: the base commit is b, not a",
    });
    // A refusal of another attempt's job changes nothing here.
    expect(recoveryAction("r", "scan", p, none, new Map([["r/scan/1", refused.get("r/scan/2")!]]))).toEqual({
      kind: "abandon",
      attempt: 2,
      reason: "attempt 2 was in flight when its runner stopped",
    });
  });

  it("a recorded attempt that was never reviewed is reviewed now", () => {
    expect(recoveryAction("r", "scan", packetState({ state: "attempted", attempts: 3 }), none)).toEqual({
      kind: "review",
      attempt: 3,
    });
  });

  it("an earlier runner's infrastructure stop is retried, counted as the next retry", () => {
    const p = packetState({
      state: "reviewed",
      attempts: 1,
      last_verdict: "infra-failed",
      last_outcome: "auth-failed",
      infra_retries: 2,
    });
    expect(recoveryAction("r", "scan", p, none)).toEqual({
      kind: "retry",
      draft: {
        type: "infra.retry-scheduled",
        data: {
          packet_id: "scan",
          attempt: 1,
          retry: 3,
          reason: "retried by a new runner after auth-failed",
        },
      },
    });
    const unknown = { ...p, last_outcome: null };
    expect(recoveryAction("r", "scan", unknown, none)).toMatchObject({
      draft: { data: { reason: "retried by a new runner after an infrastructure failure" } },
    });
  });

  it("anything else is left alone", () => {
    for (const state of ["pending", "completed", "failed", "needs-human", "abandoned", "repairing"] as const)
      expect(recoveryAction("r", "scan", packetState({ state, attempts: 1 }), none)).toEqual({
        kind: "none",
      });
    const approved = packetState({ state: "reviewed", attempts: 1, last_verdict: "changes-requested" });
    expect(recoveryAction("r", "scan", approved, none)).toEqual({ kind: "none" });
  });
});

describe("inFlightJobIds", () => {
  it("names the job of every dispatched packet's current attempt", () => {
    const state = runState({
      a: packetState({ state: "dispatched", attempts: 1 }),
      b: packetState({ state: "completed", attempts: 1 }),
      c: packetState({ state: "dispatched", attempts: 4 }),
    });
    expect(inFlightJobIds(state, "run-1")).toEqual(["run-1/a/1", "run-1/c/4"]);
  });
});
