import { type Digest, digest, digestBytes, renderArtifact } from "@dwm/core";
import { type EventDraft, gateAskDigest } from "@dwm/runtime";
import type { Gate, Packet, PacketState, Review, Run, RunState } from "@dwm/schemas";
import { ingesterErrors } from "./errors.js";
import {
  DEFAULT_INFRA_RETRY_POLICY,
  type InfraOutcome,
  type InfraRetryPolicy,
  nextInfraRetry,
} from "./infra-retry.js";

/** Where the dispatcher writes a review: reviews/<packet_id>/<attempt>.json */
export function reviewPath(packetId: string, attempt: number): string {
  return `reviews/${packetId}/${attempt}.json`;
}

/** A handoff file to copy (run-relative paths) before the events that name it are appended. */
export interface HandoffCopy {
  artifact: string;
  from: string;
  to: string;
  digest: string;
}

/** What the packet does next, for the dispatcher. */
export type IngestNext =
  | { kind: "completed" }
  | { kind: "gate-opened"; gate_id: string }
  | { kind: "repair"; next_attempt: number }
  | { kind: "failed"; reason: string }
  | { kind: "infra-retry"; retry: number; delay_ms: number; not_before: string }
  | { kind: "infra-stop"; reason: string };

export interface IngestResult {
  /** Drafts to append, in order (after the review file is written and the copies are made). */
  events: EventDraft[];
  copies: HandoffCopy[];
  next: IngestNext;
}

export interface IngestContext {
  /** The reviewed packet (for its budget, human_gate and completion_gate). */
  packet: Packet;
  /** run.json (for the digest of a human-gate phase's completion gate). */
  run: Run;
  /** Infrastructure retry policy; DEFAULT_INFRA_RETRY_POLICY when omitted. */
  infraPolicy?: InfraRetryPolicy | undefined;
  /** The caller's clock reading, for the retry's not_before. */
  now: string;
  /** The attempt's `retry_after_ms` (a rate-limited endpoint's advertised delay): the retry waits at least this. */
  retryAfterMs?: number | null | undefined;
  /** More evidence of the review the run store holds (the reviewer worker's own attempt): named by packet.reviewed. */
  evidenceFiles?: readonly { path: string; digest: string }[] | undefined;
}

/**
 * The gate a needs-human review opens: deterministic from the review, so its digest
 * can be recomputed from the review file the journal names (no file of its own).
 */
export function needsHumanGate(review: Review): Gate {
  const human = review.findings.filter((f) => f.effect === "human");
  const shown = (human.length ? human : review.findings).slice(0, 5);
  const base = `attempts/${review.packet_id}/${review.attempt}`;
  return {
    kind: "gate",
    schema_version: "1",
    gate_id: needsHumanGateId(review.packet_id, review.attempt),
    category: "human-review",
    trigger: `the review of ${review.packet_id} attempt ${review.attempt} needs a human: ${
      shown.map((f) => f.code).join(", ") || "no finding recorded"
    }`,
    safe_default: `hold ${review.packet_id} and everything after it; approve to accept attempt ${review.attempt} as it is, reject with a reason to send it back`,
    source: "runtime",
    packets: [review.packet_id],
    review: [
      reviewPath(review.packet_id, review.attempt),
      ...(review.diff ? [`${base}/diff.patch`] : []),
      ...shown.map((f) => `${f.code}: ${f.message}`),
    ],
    requires_approval: true,
  };
}

/** Id of the gate a needs-human review of attempt n opens. */
export function needsHumanGateId(packetId: string, attempt: number): string {
  return `needs-human/${packetId}/${attempt}`;
}

function summary(review: Review): string {
  const codes = [...new Set(review.findings.map((f) => f.code))];
  return codes.length ? codes.join(", ") : "no finding recorded";
}

/** The packet the review is of: ERR_INGEST_* unless the review fits the run, the packet's state and the packet. */
function reviewedPacket(state: RunState, review: Review, context: IngestContext): PacketState {
  if (review.run_id !== state.run_id) {
    throw ingesterErrors.create(
      "ERR_INGEST_FOREIGN_RUN",
      `the review is of run ${review.run_id}, not ${state.run_id}`,
      {
        details: { review_run: review.run_id, run_id: state.run_id },
      },
    );
  }
  const id = review.packet_id;
  const p = state.packets[id];
  if (!p) {
    throw ingesterErrors.create("ERR_INGEST_UNKNOWN_PACKET", `run ${state.run_id} has no packet ${id}`, {
      details: { packet_id: id },
    });
  }
  if (p.state !== "attempted" || p.attempts !== review.attempt) {
    throw ingesterErrors.create(
      "ERR_INGEST_STALE_REVIEW",
      `the review is of ${id} attempt ${review.attempt}; the packet is ${p.state} at attempt ${p.attempts}`,
      { details: { packet_id: id, attempt: review.attempt, state: p.state, attempts: p.attempts } },
    );
  }
  const packetDigest = digest(context.packet);
  if (context.packet.packet_id !== id || review.packet_digest !== packetDigest) {
    throw ingesterErrors.create(
      "ERR_INGEST_PACKET_MISMATCH",
      `the review was made against packet ${review.packet_digest}, the packet is ${packetDigest}`,
      { details: { packet_id: id, review_packet_digest: review.packet_digest, packet_digest: packetDigest } },
    );
  }
  return p;
}

/** What follows `packet.reviewed`: the events after it, the handoff copies, what the packet does next. */
export type AfterReview = IngestResult;

/**
 * The completion gate an approved review opens instead of completing the packet: a
 * human-gate phase's, when run.json has it and it is closed, rejected or not opened yet.
 */
export function completionGateToOpen(
  state: RunState,
  packet: Packet,
  run: Run,
): { gate_id: string; digest: string } | null {
  const completionGate = packet.human_gate ? packet.completion_gate : undefined;
  if (completionGate === undefined) return null;
  const entry = run.gates.find((g) => g.gate_id === completionGate);
  const g = state.gates[completionGate];
  if (!entry || (g !== undefined && g.state !== "closed" && g.state !== "rejected")) return null;
  // Asked again after a reopen or a rejection: a digest over what changed, never the old one.
  const work = [packet.packet_id, ...packet.depends_on];
  return {
    gate_id: completionGate,
    digest: gateAskDigest(state, completionGate, entry.digest as Digest, work),
  };
}

/** Approved: the handoffs registered and packet.completed, or a human-gate phase's completion gate opened. */
export function afterApproval(state: RunState, review: Review, context: IngestContext): AfterReview {
  const id = review.packet_id;
  const gate = completionGateToOpen(state, context.packet, context.run);
  if (gate) {
    const opened: EventDraft = {
      type: "gate.opened",
      data: {
        gate_id: gate.gate_id,
        gate_digest: gate.digest,
        packets: [id],
        reason: `${id} passed review (attempt ${review.attempt}); a human-gate phase completes only by approval`,
      },
    };
    return { events: [opened], copies: [], next: { kind: "gate-opened", gate_id: gate.gate_id } };
  }
  const events: EventDraft[] = [];
  const copies: HandoffCopy[] = [];
  for (const h of review.handoffs) {
    const to = `handoffs/${h.artifact}`;
    copies.push({
      artifact: h.artifact,
      from: `attempts/${id}/${review.attempt}/${h.path}`,
      to,
      digest: h.digest,
    });
    events.push({
      type: "handoff.registered",
      data: {
        artifact: h.artifact,
        from_packet: id,
        digest: h.digest,
        files: [{ path: to, digest: h.digest }],
      },
    });
  }
  events.push({
    type: "packet.completed",
    data: {
      packet_id: id,
      attempt: review.attempt,
      ...(review.branch ? { branch: review.branch } : {}),
      ...(review.head_commit ? { commit: review.head_commit } : {}),
    },
  });
  return { events, copies, next: { kind: "completed" } };
}

/** Changes requested: repair.scheduled while repairs are left in budget.max_retries, else packet.failed. */
export function afterChangesRequested(p: PacketState, review: Review, context: IngestContext): AfterReview {
  const id = review.packet_id;
  const max = context.packet.budget.max_retries;
  if (p.repairs < max) {
    const next = review.attempt + 1;
    const repair: EventDraft = {
      type: "repair.scheduled",
      data: {
        packet_id: id,
        next_attempt: next,
        reason: `repair ${p.repairs + 1} of ${max}: ${summary(review)}`,
      },
    };
    return { events: [repair], copies: [], next: { kind: "repair", next_attempt: next } };
  }
  const reason = `changes requested after ${p.repairs} repair${p.repairs === 1 ? "" : "s"} (budget.max_retries ${max}): ${summary(review)}`;
  return {
    events: [{ type: "packet.failed", data: { packet_id: id, reason } }],
    copies: [],
    next: { kind: "failed", reason },
  };
}

/** Needs a human: gate.opened for the run-time gate holding the packet (needsHumanGate). */
export function afterNeedsHuman(review: Review): AfterReview {
  const gate = needsHumanGate(review);
  const opened: EventDraft = {
    type: "gate.opened",
    data: {
      gate_id: gate.gate_id,
      gate_digest: digest(gate),
      packets: [review.packet_id],
      reason: gate.trigger,
    },
  };
  return { events: [opened], copies: [], next: { kind: "gate-opened", gate_id: gate.gate_id } };
}

/** Infrastructure failure: infra.retry-scheduled as the retry policy allows, else nothing (infra-stop). */
export function afterInfraFailure(state: RunState, review: Review, context: IngestContext): AfterReview {
  const id = review.packet_id;
  const policy = context.infraPolicy ?? DEFAULT_INFRA_RETRY_POLICY;
  const outcome =
    review.outcome === "ok" || review.outcome === "task-failed"
      ? undefined
      : (review.outcome as InfraOutcome);
  const d = nextInfraRetry(state, id, policy, context.now, outcome, context.retryAfterMs);
  if (!d.retry) return { events: [], copies: [], next: { kind: "infra-stop", reason: `${id}: ${d.reason}` } };
  const retry: EventDraft = {
    type: "infra.retry-scheduled",
    data: {
      packet_id: id,
      attempt: review.attempt,
      reason: `${review.outcome}: retry ${d.retry_number}`,
      retry: d.retry_number,
      // The policy in force, as evidence: how long the run waits, and how many retries it allows.
      delay_ms: d.delay_ms,
      max_retries: policy.max_retries,
    },
  };
  return {
    events: [retry],
    copies: [],
    next: { kind: "infra-retry", retry: d.retry_number, delay_ms: d.delay_ms, not_before: d.not_before },
  };
}

/** What follows packet.reviewed, by verdict. */
function afterReview(state: RunState, p: PacketState, review: Review, context: IngestContext): AfterReview {
  switch (review.verdict) {
    case "approved":
      return afterApproval(state, review, context);
    case "changes-requested":
      return afterChangesRequested(p, review, context);
    case "needs-human":
      return afterNeedsHuman(review);
    case "infra-failed":
      return afterInfraFailure(state, review, context);
  }
}

/**
 * Turn a review into journal drafts: always `packet.reviewed`, then
 * approved → the handoffs registered and `packet.completed` (a human-gate phase instead
 * opens its completion gate); changes-requested → `repair.scheduled` within
 * budget.max_retries, else `packet.failed`; needs-human → `gate.opened` for a run-time
 * gate holding the packet; infra-failed → `infra.retry-scheduled` per the policy, else
 * nothing more (next.kind "infra-stop": the dispatcher stops the run; never a verdict
 * on the work, never counted against max_retries). Pure.
 */
export function ingestReview(state: RunState, review: Review, context: IngestContext): IngestResult {
  const p = reviewedPacket(state, review, context);
  const id = review.packet_id;
  const reviewed: EventDraft = {
    type: "packet.reviewed",
    data: {
      packet_id: id,
      attempt: review.attempt,
      verdict: review.verdict,
      review_digest: digest(review),
      files: [
        { path: reviewPath(id, review.attempt), digest: digestBytes(renderArtifact(review)) },
        ...(context.evidenceFiles ?? []),
      ],
    },
  };
  const after = afterReview(state, p, review, context);
  return { events: [reviewed, ...after.events], copies: after.copies, next: after.next };
}
