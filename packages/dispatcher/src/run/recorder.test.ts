import type { Attempt, AttemptRequest } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import type { AttemptSettlement } from "../queue.js";
import { packetState } from "../test-support/builders.js";
import { afterIngest, planSettlement } from "./recorder.js";

// Only the packet id and attempt number of a request matter to these decisions.
const request = { packet: { packet_id: "scan" }, attempt: 2 } as AttemptRequest;
const attempt = { attempt: 2, outcome: "ok" } as Attempt;
const done: AttemptSettlement = { job_id: "r/scan/2", request, status: "done", attempt };
const inFlight = packetState({ state: "dispatched", attempts: 2 });

describe("planSettlement: what a settled attempt becomes", () => {
  it("the attempt the journal has in flight is recorded", () => {
    expect(planSettlement(done, inFlight, false)).toEqual({ kind: "record", attempt });
  });

  it("a result the journal no longer waits for is ignored, once or twice, and says why", () => {
    expect(planSettlement(done, packetState({ state: "completed", attempts: 2 }), false)).toEqual({
      kind: "ignore",
      note: "ignored a late or duplicate result of scan attempt 2 (completed, attempt 2)",
    });
    expect(planSettlement(done, packetState({ state: "dispatched", attempts: 3 }), false)).toEqual({
      kind: "ignore",
      note: "ignored a late or duplicate result of scan attempt 2 (dispatched, attempt 3)",
    });
    expect(planSettlement(done, undefined, false)).toEqual({
      kind: "ignore",
      note: "ignored a late or duplicate result of scan attempt 2 (unknown packet)",
    });
  });

  it("a lost worker abandons the attempt as infrastructure, never a verdict, and the run goes on", () => {
    expect(
      planSettlement(
        { job_id: "r/scan/2", request, status: "lost", reason: "lock expired" },
        inFlight,
        false,
      ),
    ).toEqual({
      kind: "abandon",
      reason: "infrastructure: the worker was lost: lock expired",
      failure: null,
    });
  });

  it("an attempt that could not run abandons it and stops the run as failed", () => {
    const error = { code: "ERR_EXEC_NO_BINDING", message: "no binding" };
    expect(planSettlement({ job_id: "r/scan/2", request, status: "error", error }, inFlight, false)).toEqual({
      kind: "abandon",
      reason: "the attempt could not run: ERR_EXEC_NO_BINDING: no binding",
      failure: "scan attempt 2: ERR_EXEC_NO_BINDING: no binding",
    });
  });

  it("a result that arrives after an interrupt is abandoned (it runs again on resume)", () => {
    expect(planSettlement(done, inFlight, true)).toEqual({
      kind: "abandon",
      reason: "the runner was interrupted while it ran",
      failure: null,
    });
  });

  it("a late result is ignored even after an interrupt: the journal decides first", () => {
    expect(planSettlement(done, packetState({ state: "abandoned", attempts: 2 }), true).kind).toBe("ignore");
  });
});

describe("afterIngest: what an ingested review means for the loop", () => {
  it("an infrastructure retry holds the packet until its time", () => {
    expect(
      afterIngest("scan", {
        kind: "infra-retry",
        retry: 1,
        delay_ms: 500,
        not_before: "2026-01-01T00:00:01.000Z",
      }),
    ).toEqual({ notBefore: "2026-01-01T00:00:01.000Z", failure: null });
  });

  // The ingester's reason already names the packet; the doubled prefix is what runs have always said.
  it("an infrastructure stop stops the run as failed", () => {
    expect(afterIngest("scan", { kind: "infra-stop", reason: "scan: auth failed" })).toEqual({
      notBefore: null,
      failure: "scan: scan: auth failed",
    });
  });

  it("anything else releases a held packet and stops nothing", () => {
    for (const next of [
      { kind: "completed" as const },
      { kind: "repair" as const, next_attempt: 3 },
      { kind: "failed" as const, reason: "retries spent" },
      { kind: "gate-opened" as const, gate_id: "needs-human/scan/2" },
    ])
      expect(afterIngest("scan", next)).toEqual({ notBefore: null, failure: null });
  });
});
