import type { GateState, JournalEvent, PacketState, RunState } from "@dwm/schemas";
import { runtimeErrors } from "../errors.js";

/** A packet before any event about it (an item packet names the template it came from). */
export function newPacket(fanoutFrom: string | null = null): PacketState {
  return {
    state: "pending",
    attempts: 0,
    repairs: 0,
    infra_retries: 0,
    reopens: 0,
    last_outcome: null,
    last_verdict: null,
    packet_digest: null,
    branch: null,
    commit: null,
    merged_commit: null,
    conflict_gate: null,
    reason: null,
    fanout_from: fanoutFrom,
    seq: 0,
  };
}

/** A gate before any event about it. */
export function newGate(): GateState {
  return { state: "closed", gate_digest: null, packets: [], reason: null, approval_digest: null, seq: 0 };
}

/** Refuse `ev`: ERR_JOURNAL_TRANSITION naming the event. */
export function illegal(ev: JournalEvent, message: string, details: Record<string, unknown> = {}): never {
  throw runtimeErrors.create("ERR_JOURNAL_TRANSITION", `event ${ev.seq} (${ev.type}): ${message}`, {
    details: { seq: ev.seq, type: ev.type, ...details },
  });
}

/** The packet `id` of the state; an event naming an unknown packet is refused. */
export function packetOf(state: RunState, ev: JournalEvent, id: string): PacketState {
  const p = state.packets[id];
  if (!p) illegal(ev, `unknown packet ${id}`, { packet_id: id });
  return p;
}

/** The gate `id` of the state; an event naming an unknown gate is refused. */
export function gateOf(state: RunState, ev: JournalEvent, id: string): GateState {
  const g = state.gates[id];
  if (!g) illegal(ev, `unknown gate ${id}`, { gate_id: id });
  return g;
}

/** Refuse `ev` unless packet `id` is in one of the `allowed` states. */
export function expectState(
  ev: JournalEvent,
  id: string,
  p: PacketState,
  allowed: readonly PacketState["state"][],
): void {
  if (!allowed.includes(p.state)) {
    illegal(ev, `packet ${id} is ${p.state}, expected ${allowed.join(" or ")}`, {
      packet_id: id,
      state: p.state,
    });
  }
}

/** Refuse `ev` unless it names attempt `wanted` of packet `id`. */
export function expectAttempt(ev: JournalEvent, id: string, attempt: number, wanted: number): void {
  if (attempt !== wanted) {
    illegal(ev, `packet ${id}: attempt ${attempt}, expected ${wanted}`, {
      packet_id: id,
      attempt,
      expected: wanted,
    });
  }
}

/** Packet states of an attempt under way. */
export const IN_FLIGHT: readonly PacketState["state"][] = ["dispatched", "attempted"];
