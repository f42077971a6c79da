// The fold's handlers of run-wide events: opening, recompiles, leases, gates, handoffs, completion.
import type { GateState, RunState } from "@dwm/schemas";
import type { EventOf } from "../events.js";
import { gateOf, illegal, newGate, newPacket, packetOf } from "./fold-base.js";

/** run.opened: the journal's own list of packets and gates replaces run.json's. */
export function applyRunOpened(state: RunState, ev: EventOf<"run.opened">): void {
  if (state.seq !== 0) illegal(ev, "run.opened must be the first event");
  state.run_digest = ev.data.run_digest;
  state.plan_digest = ev.data.plan_digest;
  state.revision = ev.data.revision;
  if (ev.data.instance !== undefined) state.instance = ev.data.instance;
  if (ev.data.branch !== undefined) state.branch = ev.data.branch;
  state.packets = {};
  state.gates = {};
  for (const id of ev.data.packets) state.packets[id] = newPacket();
  for (const id of ev.data.gates) state.gates[id] = newGate();
}

/** The fan-outs (by first phase) a recompile takes out: those with a per-item phase among `removed`. */
export function fanoutsLeaving(state: RunState, removed: readonly string[]): string[] {
  return Object.entries(state.fanouts ?? {})
    .filter(([, f]) => f?.templates.some((t) => removed.includes(t)))
    .map(([first]) => first);
}

function checkRecompile(state: RunState, ev: EventOf<"run.recompiled">): void {
  const c = ev.data.changes;
  if (ev.data.revision <= state.revision) {
    illegal(ev, `revision ${ev.data.revision} is not after ${state.revision}`);
  }
  for (const id of [...c.removed, ...c.changed, ...c.downstream]) packetOf(state, ev, id);
  for (const id of c.added) if (state.packets[id]) illegal(ev, `added packet ${id} already exists`);
  for (const id of [...(c.gates?.changed ?? []), ...(c.gates?.removed ?? [])]) gateOf(state, ev, id);
}

/** run.recompiled: removed packets (and the item packets of their fan-outs) leave, added ones start pending. */
export function applyRecompiled(state: RunState, ev: EventOf<"run.recompiled">): void {
  checkRecompile(state, ev);
  const c = ev.data.changes;
  state.run_digest = ev.data.run_digest;
  state.plan_digest = ev.data.plan_digest;
  state.revision = ev.data.revision;
  state.completed = false;
  for (const id of c.removed) delete state.packets[id];
  // A fan-out whose per-item phase left the plan takes its item packets with it.
  for (const first of fanoutsLeaving(state, c.removed)) {
    for (const item of state.fanouts?.[first]?.packets ?? []) delete state.packets[item.packet_id];
    delete state.fanouts?.[first];
  }
  for (const id of c.added) state.packets[id] = { ...newPacket(), seq: ev.seq };
  for (const id of c.gates?.removed ?? []) delete state.gates[id];
  // A changed gate has a new digest: approvals of the old one no longer hold.
  for (const id of [...(c.gates?.added ?? []), ...(c.gates?.changed ?? [])]) {
    state.gates[id] = { ...newGate(), seq: ev.seq };
  }
}

/** lease.taken / lease.taken-over: who holds the run now. */
export function applyLease(state: RunState, ev: EventOf<"lease.taken"> | EventOf<"lease.taken-over">): void {
  state.lease = {
    pid: ev.data.pid,
    host: ev.data.host,
    taken_over: ev.type === "lease.taken-over",
    seq: ev.seq,
  };
}

/** Events that change nothing but the head (journal.truncated, store.recovered, run.stopped: see applyEvent). */
export function applyNothing(): void {}

/**
 * gate.reopened: a compiled gate whose held packets were reopened goes back to closed with the
 * new digest the event names (an approval of the old digest no longer counts); asked again
 * when the run reaches it. Refused for a gate the run opened itself (those are superseded).
 */
export function applyGateReopened(state: RunState, ev: EventOf<"gate.reopened">): void {
  const { gate_id: id } = ev.data;
  const g = gateOf(state, ev, id);
  if (g.state === "superseded") illegal(ev, `gate ${id} is superseded`, { gate_id: id });
  if (g.gate_digest === ev.data.gate_digest)
    illegal(ev, `gate ${id} is reopened with the digest it had`, { gate_id: id });
  Object.assign(g, {
    state: "closed",
    gate_digest: ev.data.gate_digest,
    reason: ev.data.reason,
    approval_digest: null,
    seq: ev.seq,
  });
}

/** gate.superseded: an open gate the run opened itself asks nothing any more (its packets were reopened). */
export function applyGateSuperseded(state: RunState, ev: EventOf<"gate.superseded">): void {
  const { gate_id: id } = ev.data;
  const g = gateOf(state, ev, id);
  if (g.state !== "open") illegal(ev, `gate ${id} is ${g.state}, not open`, { gate_id: id });
  Object.assign(g, { state: "superseded", reason: ev.data.reason, seq: ev.seq });
}

/** gate.opened: a closed or rejected gate (or one only the run knows) asks for a decision. */
export function applyGateOpened(state: RunState, ev: EventOf<"gate.opened">): void {
  const { gate_id: id } = ev.data;
  const g = state.gates[id];
  if (g && g.state !== "closed" && g.state !== "rejected")
    illegal(ev, `gate ${id} is ${g.state}`, { gate_id: id });
  state.gates[id] = {
    state: "open",
    gate_digest: ev.data.gate_digest,
    packets: [...ev.data.packets],
    reason: ev.data.reason,
    approval_digest: null,
    seq: ev.seq,
  };
}

/**
 * Refuse a decision on a gate that is already decided, or that names another digest
 * than the one the gate was opened with (an approval of a changed gate never counts).
 */
export function checkGateDecision(
  ev: EventOf<"gate.approved"> | EventOf<"gate.rejected">,
  g: GateState,
): void {
  const { gate_id: id, gate_digest } = ev.data;
  if (g.state !== "closed" && g.state !== "open")
    illegal(ev, `gate ${id} is already ${g.state}`, { gate_id: id });
  if (g.gate_digest !== null && g.gate_digest !== gate_digest) {
    illegal(ev, `the decision is for gate digest ${gate_digest}, the gate was opened as ${g.gate_digest}`, {
      gate_id: id,
    });
  }
}

/** gate.approved / gate.rejected: the operator's decision, bound to the gate digest. */
export function applyGateDecided(
  state: RunState,
  ev: EventOf<"gate.approved"> | EventOf<"gate.rejected">,
): void {
  const g = gateOf(state, ev, ev.data.gate_id);
  checkGateDecision(ev, g);
  Object.assign(g, {
    state: ev.type === "gate.approved" ? "approved" : "rejected",
    gate_digest: ev.data.gate_digest,
    approval_digest: ev.data.approval_digest,
    seq: ev.seq,
  });
}

/** handoff.registered: an artifact a packet handed over, by digest. */
export function applyHandoff(state: RunState, ev: EventOf<"handoff.registered">): void {
  packetOf(state, ev, ev.data.from_packet);
  state.handoffs[ev.data.artifact] = {
    from_packet: ev.data.from_packet,
    digest: ev.data.digest,
    seq: ev.seq,
  };
}

/** Packets that keep a run from completing: any not completed, skipped or an expanded fan-out template. */
export function unfinishedPackets(state: RunState): string[] {
  return Object.entries(state.packets)
    .filter(([, p]) => p?.state !== "completed" && p?.state !== "expanded" && p?.state !== "skipped")
    .map(([id]) => id);
}

/** run.completed: only when no packet is unfinished. */
export function applyRunCompleted(state: RunState, ev: EventOf<"run.completed">): void {
  const open = unfinishedPackets(state);
  if (open.length > 0) illegal(ev, `packets not completed: ${open.join(", ")}`);
  state.completed = true;
}
