// The fold's handlers of events about one packet: each checks everything first, then changes the state.
import type { PacketState, RunState } from "@dwm/schemas";
import type { EventOf } from "../events.js";
import { expectAttempt, expectState, IN_FLIGHT, illegal, packetOf } from "./fold-base.js";

/** Is packet `id` held by a gate that was approved? */
function heldByApprovedGate(state: RunState, id: string): boolean {
  return Object.values(state.gates).some((g) => g?.state === "approved" && g.packets.includes(id));
}

/**
 * What lets packet.completed complete `p` at `attempt`: an approved review of that attempt
 * ("review"), an approved gate holding the packet ("gate": human-gate phases and
 * needs-human decisions), or nothing (null: the event is refused).
 */
export function completionBasis(
  state: RunState,
  id: string,
  p: PacketState,
  attempt: number,
): "review" | "gate" | null {
  if (p.state === "reviewed" && p.last_verdict === "approved" && attempt === p.attempts) return "review";
  const byGate =
    ["pending", "needs-human", "reviewed"].includes(p.state) &&
    (attempt === 0 || attempt === p.attempts) &&
    heldByApprovedGate(state, id);
  return byGate ? "gate" : null;
}

/** packet.dispatched: the next attempt of a packet that waits for one. */
export function applyDispatched(state: RunState, ev: EventOf<"packet.dispatched">): void {
  const { packet_id: id, attempt } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["pending", "repairing", "abandoned"]);
  expectAttempt(ev, id, attempt, p.attempts + 1);
  Object.assign(p, {
    state: "dispatched",
    attempts: attempt,
    packet_digest: ev.data.packet_digest,
    seq: ev.seq,
  });
  // Where the attempt went: a runner that resumes must use the same queue while it is in flight.
  if (ev.data.queue !== undefined) p.queue = { ...ev.data.queue };
  else delete p.queue;
}

/** attempt.recorded: the dispatched attempt's evidence is in. */
export function applyAttemptRecorded(state: RunState, ev: EventOf<"attempt.recorded">): void {
  const { packet_id: id, attempt } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["dispatched"]);
  expectAttempt(ev, id, attempt, p.attempts);
  Object.assign(p, { state: "attempted", last_outcome: ev.data.outcome, seq: ev.seq });
}

/** packet.reviewed: the attempt's verdict (needs-human holds the packet). */
export function applyReviewed(state: RunState, ev: EventOf<"packet.reviewed">): void {
  const { packet_id: id, attempt, verdict } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["attempted"]);
  expectAttempt(ev, id, attempt, p.attempts);
  Object.assign(p, {
    state: verdict === "needs-human" ? "needs-human" : "reviewed",
    last_verdict: verdict,
    seq: ev.seq,
  });
}

/** packet.completed: only by an approved review of the attempt or an approved gate (completionBasis). */
export function applyCompleted(state: RunState, ev: EventOf<"packet.completed">): void {
  const { packet_id: id, attempt } = ev.data;
  const p = packetOf(state, ev, id);
  if (completionBasis(state, id, p, attempt) === null) {
    illegal(
      ev,
      `packet ${id} (${p.state}, last verdict ${p.last_verdict ?? "none"}) has neither an approved review of attempt ${attempt} nor an approved gate`,
      {
        packet_id: id,
        state: p.state,
      },
    );
  }
  Object.assign(p, {
    state: "completed",
    branch: ev.data.branch ?? null,
    commit: ev.data.commit ?? null,
    reason: null,
    seq: ev.seq,
  });
}

/** repair.scheduled: a verdict other than approved sends the packet to its next attempt. */
export function applyRepairScheduled(state: RunState, ev: EventOf<"repair.scheduled">): void {
  const { packet_id: id, next_attempt } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["reviewed", "needs-human", "completed"]);
  if (p.state === "reviewed" && p.last_verdict === "approved")
    illegal(ev, `packet ${id} was approved`, { packet_id: id });
  expectAttempt(ev, id, next_attempt, p.attempts + 1);
  Object.assign(p, { state: "repairing", repairs: p.repairs + 1, reason: ev.data.reason, seq: ev.seq });
  state.completed = false;
}

/** infra.retry-scheduled: an attempt lost to infrastructure runs again; retries count on their own. */
export function applyInfraRetry(state: RunState, ev: EventOf<"infra.retry-scheduled">): void {
  const { packet_id: id, attempt, retry } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["dispatched", "attempted", "reviewed", "abandoned"]);
  if (p.state === "reviewed" && p.last_verdict !== "infra-failed") {
    illegal(ev, `packet ${id} was reviewed ${p.last_verdict}, not infra-failed`, { packet_id: id });
  }
  expectAttempt(ev, id, attempt, p.attempts);
  if (retry !== p.infra_retries + 1)
    illegal(ev, `packet ${id}: retry ${retry}, expected ${p.infra_retries + 1}`);
  Object.assign(p, { state: "pending", infra_retries: retry, reason: ev.data.reason, seq: ev.seq });
}

/** packet.failed: any packet not already completed or failed. */
export function applyFailed(state: RunState, ev: EventOf<"packet.failed">): void {
  const id = ev.data.packet_id;
  const p = packetOf(state, ev, id);
  if (p.state === "completed" || p.state === "failed")
    illegal(ev, `packet ${id} is already ${p.state}`, { packet_id: id });
  Object.assign(p, { state: "failed", reason: ev.data.reason, seq: ev.seq });
}

/** packet.abandoned: the attempt in flight when its runner died. */
export function applyAbandoned(state: RunState, ev: EventOf<"packet.abandoned">): void {
  const { packet_id: id, attempt } = ev.data;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, IN_FLIGHT);
  expectAttempt(ev, id, attempt, p.attempts);
  Object.assign(p, { state: "abandoned", reason: ev.data.reason, seq: ev.seq });
}

/** packet.reopened: work sent back (a rejected gate, a recompile); never while in flight. */
export function applyReopened(state: RunState, ev: EventOf<"packet.reopened">): void {
  const id = ev.data.packet_id;
  const p = packetOf(state, ev, id);
  if (p.state === "dispatched" || p.state === "attempted") {
    illegal(ev, `packet ${id} is in flight (${p.state}); abandon it first`, { packet_id: id });
  }
  // Reopened work starts a fresh repair budget (the rejection, not the old repairs, is why it runs).
  Object.assign(p, {
    state: "pending",
    reopens: p.reopens + 1,
    repairs: 0,
    reason: ev.data.reason,
    branch: null,
    commit: null,
    merged_commit: null,
    conflict_gate: null,
    seq: ev.seq,
  });
  state.completed = false;
}

/** packet.skipped: the run goes on without a packet a skip gate holds (or whose upstream was skipped). */
export function applySkipped(state: RunState, ev: EventOf<"packet.skipped">): void {
  const id = ev.data.packet_id;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["pending", "blocked"]);
  Object.assign(p, { state: "skipped", reason: ev.data.reason, seq: ev.seq });
}

/** integration.merged / integration.conflict: a completed packet's work merged, or held by a conflict gate. */
export function applyIntegration(
  state: RunState,
  ev: EventOf<"integration.merged"> | EventOf<"integration.conflict">,
): void {
  const id = ev.data.packet_id;
  const p = packetOf(state, ev, id);
  expectState(ev, id, p, ["completed"]);
  if (ev.type === "integration.merged")
    Object.assign(p, { merged_commit: ev.data.commit, conflict_gate: null, seq: ev.seq });
  else Object.assign(p, { conflict_gate: ev.data.gate_id, seq: ev.seq });
}
