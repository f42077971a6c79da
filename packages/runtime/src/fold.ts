import { digest } from "@dwm/core";
import type { GateState, JournalEvent, PacketState, Run, RunState } from "@dwm/schemas";
import { runtimeErrors } from "./errors.js";

function newPacket(fanoutFrom: string | null = null): PacketState {
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

function newGate(): GateState {
  return { state: "closed", gate_digest: null, packets: [], reason: null, approval_digest: null, seq: 0 };
}

/** The state of a run before any event: every packet pending, every gate closed. */
export function initialState(run: Run): RunState {
  const state: RunState = {
    kind: "run-state",
    schema_version: "1",
    run_id: run.run_id,
    run_digest: digest(run),
    plan_digest: run.plan_digest,
    revision: run.revision,
    seq: 0,
    head: null,
    packets: {},
    gates: {},
    handoffs: {},
    lease: null,
    completed: false,
    stopped: null,
  };
  for (const p of run.packets) state.packets[p.packet_id] = newPacket();
  for (const g of run.gates) state.gates[g.gate_id] = newGate();
  return state;
}

function illegal(ev: JournalEvent, message: string, details: Record<string, unknown> = {}): never {
  throw runtimeErrors.create("ERR_JOURNAL_TRANSITION", `event ${ev.seq} (${ev.type}): ${message}`, {
    details: { seq: ev.seq, type: ev.type, ...details },
  });
}

function packetOf(state: RunState, ev: JournalEvent, id: string): PacketState {
  const p = state.packets[id];
  if (!p) illegal(ev, `unknown packet ${id}`, { packet_id: id });
  return p;
}

function gateOf(state: RunState, ev: JournalEvent, id: string): GateState {
  const g = state.gates[id];
  if (!g) illegal(ev, `unknown gate ${id}`, { gate_id: id });
  return g;
}

function expectState(
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

function expectAttempt(ev: JournalEvent, id: string, attempt: number, wanted: number): void {
  if (attempt !== wanted) {
    illegal(ev, `packet ${id}: attempt ${attempt}, expected ${wanted}`, {
      packet_id: id,
      attempt,
      expected: wanted,
    });
  }
}

function heldByApprovedGate(state: RunState, id: string): boolean {
  return Object.values(state.gates).some((g) => g?.state === "approved" && g.packets.includes(id));
}

const IN_FLIGHT: readonly PacketState["state"][] = ["dispatched", "attempted"];

/**
 * fanout.expanded: the templates become `expanded`; each listed item packet is added
 * (new), kept as it is (same digest: a completed item never runs again) or sent back
 * to pending (same id, new digest: its template changed); item packets of the previous
 * expansion that are not listed are dropped (they must be exactly `data.dropped`).
 */
function applyFanout(state: RunState, ev: Extract<JournalEvent, { type: "fanout.expanded" }>): void {
  const d = ev.data;
  packetOf(state, ev, d.from_packet);
  if (!d.templates.includes(d.first)) illegal(ev, `templates do not include the fan-out ${d.first}`);
  for (const t of d.templates) {
    const p = packetOf(state, ev, t);
    if (p.fanout_from !== null) illegal(ev, `template ${t} is itself an item packet`, { packet_id: t });
    expectState(ev, t, p, ["pending", "expanded", "failed"]);
  }
  const prev = state.fanouts?.[d.first];
  const before = new Map((prev?.packets ?? []).map((x) => [x.packet_id, x]));
  const listed = new Set<string>();
  for (const item of d.packets) {
    if (listed.has(item.packet_id)) illegal(ev, `item packet ${item.packet_id} is listed twice`);
    listed.add(item.packet_id);
    if (!d.templates.includes(item.template))
      illegal(ev, `item packet ${item.packet_id} names template ${item.template}, not one of this fan-out`);
    const existing = state.packets[item.packet_id];
    const old = before.get(item.packet_id);
    if (existing && !old)
      illegal(ev, `packet ${item.packet_id} already exists`, { packet_id: item.packet_id });
    if (existing && old && old.digest !== item.digest && IN_FLIGHT.includes(existing.state))
      illegal(ev, `item packet ${item.packet_id} changed while in flight`, { packet_id: item.packet_id });
  }
  const dropped = [...before.keys()].filter((id) => !listed.has(id));
  if (dropped.length !== d.dropped.length || dropped.some((id, i) => d.dropped[i] !== id))
    illegal(
      ev,
      `dropped lists ${d.dropped.join(", ") || "nothing"}, the previous expansion leaves ${dropped.join(", ") || "nothing"}`,
    );
  for (const id of dropped) {
    const p = state.packets[id];
    if (p && IN_FLIGHT.includes(p.state)) illegal(ev, `item packet ${id} is in flight; it cannot be dropped`);
  }

  for (const id of dropped) delete state.packets[id];
  for (const item of d.packets) {
    const existing = state.packets[item.packet_id];
    const old = before.get(item.packet_id);
    if (!existing) {
      state.packets[item.packet_id] = { ...newPacket(item.template), seq: ev.seq };
    } else if (old && old.digest !== item.digest) {
      Object.assign(existing, {
        state: "pending",
        reopens: existing.reopens + 1,
        repairs: 0,
        reason: `fan-out ${d.first} expanded again: the item packet changed`,
        branch: null,
        commit: null,
        merged_commit: null,
        conflict_gate: null,
        seq: ev.seq,
      });
    }
  }
  for (const t of d.templates)
    Object.assign(state.packets[t] as PacketState, { state: "expanded", reason: null, seq: ev.seq });
  state.fanouts ??= {};
  state.fanouts[d.first] = {
    source_packet: d.from_packet,
    templates: [...d.templates],
    handoff_digest: d.handoff.digest,
    items: d.handoff.items,
    packets: d.packets.map((x) => ({ packet_id: x.packet_id, template: x.template, digest: x.digest })),
    dropped: [...(prev?.dropped ?? []), ...dropped],
    seq: ev.seq,
  };
  state.completed = false;
}

/**
 * Apply one event to `state` in place. Every check runs before any change, so a
 * refused event (ERR_JOURNAL_TRANSITION) leaves the state as it was.
 */
export function applyEvent(state: RunState, ev: JournalEvent): void {
  switch (ev.type) {
    case "run.opened": {
      if (state.seq !== 0) illegal(ev, "run.opened must be the first event");
      state.run_digest = ev.data.run_digest;
      state.plan_digest = ev.data.plan_digest;
      state.revision = ev.data.revision;
      state.packets = {};
      state.gates = {};
      for (const id of ev.data.packets) state.packets[id] = newPacket();
      for (const id of ev.data.gates) state.gates[id] = newGate();
      break;
    }
    case "run.recompiled": {
      const c = ev.data.changes;
      if (ev.data.revision <= state.revision) {
        illegal(ev, `revision ${ev.data.revision} is not after ${state.revision}`);
      }
      for (const id of [...c.removed, ...c.changed, ...c.downstream]) packetOf(state, ev, id);
      for (const id of c.added) if (state.packets[id]) illegal(ev, `added packet ${id} already exists`);
      for (const id of [...(c.gates?.changed ?? []), ...(c.gates?.removed ?? [])]) gateOf(state, ev, id);
      state.run_digest = ev.data.run_digest;
      state.plan_digest = ev.data.plan_digest;
      state.revision = ev.data.revision;
      state.completed = false;
      for (const id of c.removed) delete state.packets[id];
      // A fan-out whose per-item phase left the plan takes its item packets with it.
      for (const [first, f] of Object.entries(state.fanouts ?? {})) {
        if (!f?.templates.some((t) => c.removed.includes(t))) continue;
        for (const item of f.packets) delete state.packets[item.packet_id];
        delete state.fanouts?.[first];
      }
      for (const id of c.added) state.packets[id] = { ...newPacket(), seq: ev.seq };
      for (const id of c.gates?.removed ?? []) delete state.gates[id];
      // A changed gate has a new digest: approvals of the old one no longer hold.
      for (const id of [...(c.gates?.added ?? []), ...(c.gates?.changed ?? [])]) {
        state.gates[id] = { ...newGate(), seq: ev.seq };
      }
      break;
    }
    case "lease.taken":
      state.lease = { pid: ev.data.pid, host: ev.data.host, taken_over: false, seq: ev.seq };
      break;
    case "lease.taken-over":
      state.lease = { pid: ev.data.pid, host: ev.data.host, taken_over: true, seq: ev.seq };
      break;
    case "journal.truncated":
      break;
    case "packet.dispatched": {
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
      break;
    }
    case "attempt.recorded": {
      const { packet_id: id, attempt } = ev.data;
      const p = packetOf(state, ev, id);
      expectState(ev, id, p, ["dispatched"]);
      expectAttempt(ev, id, attempt, p.attempts);
      Object.assign(p, { state: "attempted", last_outcome: ev.data.outcome, seq: ev.seq });
      break;
    }
    case "packet.reviewed": {
      const { packet_id: id, attempt, verdict } = ev.data;
      const p = packetOf(state, ev, id);
      expectState(ev, id, p, ["attempted"]);
      expectAttempt(ev, id, attempt, p.attempts);
      Object.assign(p, {
        state: verdict === "needs-human" ? "needs-human" : "reviewed",
        last_verdict: verdict,
        seq: ev.seq,
      });
      break;
    }
    case "packet.completed": {
      const { packet_id: id, attempt } = ev.data;
      const p = packetOf(state, ev, id);
      const byReview = p.state === "reviewed" && p.last_verdict === "approved" && attempt === p.attempts;
      const byGate =
        ["pending", "needs-human", "reviewed"].includes(p.state) &&
        (attempt === 0 || attempt === p.attempts) &&
        heldByApprovedGate(state, id);
      if (!byReview && !byGate) {
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
      break;
    }
    case "repair.scheduled": {
      const { packet_id: id, next_attempt } = ev.data;
      const p = packetOf(state, ev, id);
      expectState(ev, id, p, ["reviewed", "needs-human", "completed"]);
      if (p.state === "reviewed" && p.last_verdict === "approved")
        illegal(ev, `packet ${id} was approved`, { packet_id: id });
      expectAttempt(ev, id, next_attempt, p.attempts + 1);
      Object.assign(p, { state: "repairing", repairs: p.repairs + 1, reason: ev.data.reason, seq: ev.seq });
      state.completed = false;
      break;
    }
    case "infra.retry-scheduled": {
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
      break;
    }
    case "packet.failed": {
      const id = ev.data.packet_id;
      const p = packetOf(state, ev, id);
      if (p.state === "completed" || p.state === "failed")
        illegal(ev, `packet ${id} is already ${p.state}`, { packet_id: id });
      Object.assign(p, { state: "failed", reason: ev.data.reason, seq: ev.seq });
      break;
    }
    case "packet.abandoned": {
      const { packet_id: id, attempt } = ev.data;
      const p = packetOf(state, ev, id);
      expectState(ev, id, p, ["dispatched", "attempted"]);
      expectAttempt(ev, id, attempt, p.attempts);
      Object.assign(p, { state: "abandoned", reason: ev.data.reason, seq: ev.seq });
      break;
    }
    case "packet.reopened": {
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
      break;
    }
    case "gate.opened": {
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
      break;
    }
    case "gate.approved":
    case "gate.rejected": {
      const { gate_id: id, gate_digest } = ev.data;
      const g = gateOf(state, ev, id);
      if (g.state !== "closed" && g.state !== "open")
        illegal(ev, `gate ${id} is already ${g.state}`, { gate_id: id });
      if (g.gate_digest !== null && g.gate_digest !== gate_digest) {
        illegal(
          ev,
          `the decision is for gate digest ${gate_digest}, the gate was opened as ${g.gate_digest}`,
          { gate_id: id },
        );
      }
      Object.assign(g, {
        state: ev.type === "gate.approved" ? "approved" : "rejected",
        gate_digest,
        approval_digest: ev.data.approval_digest,
        seq: ev.seq,
      });
      break;
    }
    case "handoff.registered": {
      packetOf(state, ev, ev.data.from_packet);
      state.handoffs[ev.data.artifact] = {
        from_packet: ev.data.from_packet,
        digest: ev.data.digest,
        seq: ev.seq,
      };
      break;
    }
    case "integration.merged":
    case "integration.conflict": {
      const id = ev.data.packet_id;
      const p = packetOf(state, ev, id);
      expectState(ev, id, p, ["completed"]);
      if (ev.type === "integration.merged")
        Object.assign(p, { merged_commit: ev.data.commit, conflict_gate: null, seq: ev.seq });
      else Object.assign(p, { conflict_gate: ev.data.gate_id, seq: ev.seq });
      break;
    }
    case "fanout.expanded":
      applyFanout(state, ev);
      break;
    case "run.completed": {
      const open = Object.entries(state.packets).filter(
        ([, p]) => p?.state !== "completed" && p?.state !== "expanded",
      );
      if (open.length > 0) illegal(ev, `packets not completed: ${open.map(([id]) => id).join(", ")}`);
      state.completed = true;
      break;
    }
    case "run.stopped":
      break;
    default: {
      const never: never = ev;
      illegal(never as JournalEvent, "unknown event type");
    }
  }
  state.seq = ev.seq;
  state.head = ev.digest;
  state.stopped =
    ev.type === "run.stopped"
      ? {
          reason: ev.data.reason,
          ...(ev.data.detail === undefined ? {} : { detail: ev.data.detail }),
          seq: ev.seq,
        }
      : null;
}

/**
 * The run's state after `events`: pure and deterministic (the same events give
 * the same state, byte for byte in canonical JSON). `run` names the run and, before
 * the first event, its packets and gates; from run.opened on, the journal itself does.
 * Throws ERR_JOURNAL_TRANSITION at the first event the state does not allow.
 */
export function foldJournal(events: readonly JournalEvent[], run: Run): RunState {
  const state = initialState(run);
  for (const ev of events) applyEvent(state, ev);
  return state;
}
