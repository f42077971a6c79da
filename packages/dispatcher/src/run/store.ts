import path from "node:path";
import { readArtifact, resolveInside } from "@dwm/core";
import { reviewPath } from "@dwm/ingester";
import { readJournal } from "@dwm/runtime";
import type { Attempt, JournalEvent, Review } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";

// Reads of what the run store holds about attempts, shared by the parts of the loop.

/** `attempts/<packet>/<n>`: an attempt's folder, relative to the run directory. */
export function attemptRel(packetId: string, n: number): string {
  return `attempts/${packetId}/${n}`;
}

/** An attempt's folder, absolute, checked to stay inside the run directory. */
export function attemptDir(dir: string, packetId: string, n: number): string {
  return resolveInside(dir, attemptRel(packetId, n), "attempt directory");
}

/** An attempt's attempt.json as written (schema-checked, no digest to compare with). */
export function readAttemptFile(dir: string, packetId: string, n: number): Attempt {
  return readArtifact<Attempt>(path.join(dir, attemptRel(packetId, n), "attempt.json"), "attempt").value;
}

/** The attempt the journal recorded (attempt.recorded), checked against the digest it names. */
export function readRecordedAttempt(dir: string, packetId: string, n: number): Attempt {
  const ev = readJournal(dir).events.findLast(
    (e) => e.type === "attempt.recorded" && e.data.packet_id === packetId && e.data.attempt === n,
  );
  if (ev?.type !== "attempt.recorded") {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_EVIDENCE_MISSING",
      `no attempt.recorded for ${packetId} attempt ${n}`,
      { details: { packet_id: packetId, attempt: n } },
    );
  }
  return readArtifact<Attempt>(path.join(dir, attemptRel(packetId, n), "attempt.json"), "attempt", {
    expectDigest: ev.data.attempt_digest,
  }).value;
}

/** The review written for an attempt. */
export function readReview(dir: string, packetId: string, n: number): Review {
  return readArtifact<Review>(path.join(dir, reviewPath(packetId, n)), "review").value;
}

/** Tokens an attempt reports spending (total, else input + output; 0 when it reports none). */
export function totalTokens(a: Attempt): number {
  const t = a.tokens;
  if (!t) return 0;
  return t.total_tokens ?? (t.input_tokens ?? 0) + (t.output_tokens ?? 0);
}

/** The dollars an attempt cost as `costOf` prices it (0 without a pricer or when it cannot be priced). */
export function usdOf(costOf: ((a: Attempt) => number | null) | undefined, a: Attempt): number {
  const usd = costOf ? costOf(a) : null;
  return typeof usd === "number" && Number.isFinite(usd) && usd > 0 ? usd : 0;
}

/**
 * Tokens (and dollars, priced by `costOf`) the recorded attempts of a journal spent; an attempt
 * that cannot be read counts 0.
 */
export function spendOfHistory(
  dir: string,
  events: readonly JournalEvent[],
  costOf?: (a: Attempt) => number | null,
): { tokens: number; usd: number } {
  const sum = { tokens: 0, usd: 0 };
  for (const e of events) {
    if (e.type !== "attempt.recorded") continue;
    try {
      const a = readAttemptFile(dir, e.data.packet_id, e.data.attempt);
      sum.tokens += totalTokens(a);
      sum.usd += usdOf(costOf, a);
    } catch {
      // unreadable evidence is verify's finding, not a budget's
    }
  }
  return sum;
}

/** Tokens the recorded attempts of a journal spent; an attempt that cannot be read counts 0. */
export function tokensOfHistory(dir: string, events: readonly JournalEvent[]): number {
  return spendOfHistory(dir, events).tokens;
}
