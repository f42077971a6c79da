import type { Attempt, JournalEvent } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { attemptDir, attemptRel, readRecordedAttempt, tokensOfHistory, totalTokens } from "./store.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("totalTokens", () => {
  it("the total an attempt reports, else input + output, else 0", () => {
    const a = (tokens: unknown) => ({ tokens }) as Attempt;
    expect(totalTokens(a({ total_tokens: 90, input_tokens: 10, output_tokens: 20 }))).toBe(90);
    expect(totalTokens(a({ input_tokens: 10, output_tokens: 20 }))).toBe(30);
    expect(totalTokens(a({ output_tokens: 20 }))).toBe(20);
    expect(totalTokens(a(null))).toBe(0);
  });
});

describe("attempt paths", () => {
  it("attempts/<packet>/<n>, absolute inside the run; a packet id that climbs out is refused", () => {
    expect(attemptRel("scan/item-1", 2)).toBe("attempts/scan/item-1/2");
    expect(attemptDir("/runs/r1", "scan", 2)).toBe("/runs/r1/attempts/scan/2");
    expect(() => attemptDir("/runs/r1", "../../etc", 1)).toThrow(
      expect.objectContaining({ code: "ERR_OUT_PATH_UNSAFE" }),
    );
  });
});

describe("reads of recorded attempts", () => {
  it("an attempt the journal never recorded is ERR_DISPATCH_EVIDENCE_MISSING", () => {
    const dir = makeTempDir("dwm-store-");
    cleanups.push(dir.cleanup);
    expect(() => readRecordedAttempt(dir.path, "scan", 1)).toThrow(
      expect.objectContaining({
        code: "ERR_DISPATCH_EVIDENCE_MISSING",
        details: { packet_id: "scan", attempt: 1 },
      }),
    );
  });

  it("tokensOfHistory counts an attempt whose file cannot be read as 0 (verify reports it, the budget does not)", () => {
    const dir = makeTempDir("dwm-store-");
    cleanups.push(dir.cleanup);
    const recorded = {
      type: "attempt.recorded",
      data: { packet_id: "scan", attempt: 1 },
    } as unknown as JournalEvent;
    const other = {
      type: "packet.dispatched",
      data: { packet_id: "scan", attempt: 1 },
    } as unknown as JournalEvent;
    expect(tokensOfHistory(dir.path, [other, recorded])).toBe(0);
  });
});
