import { digest } from "@dwm/core";
import type { JournalEvent, Run, RunState } from "@dwm/schemas";
import type { EventOf, EventType } from "./events.js";
import { illegal, newGate, newPacket } from "./internal/fold-base.js";
import { applyFanout } from "./internal/fold-fanout.js";
import {
  applyAbandoned,
  applyAttemptRecorded,
  applyCompleted,
  applyDispatched,
  applyFailed,
  applyInfraRetry,
  applyIntegration,
  applyReopened,
  applyRepairScheduled,
  applyReviewed,
} from "./internal/fold-packets.js";
import {
  applyGateDecided,
  applyGateOpened,
  applyHandoff,
  applyLease,
  applyNothing,
  applyRecompiled,
  applyRunCompleted,
  applyRunOpened,
} from "./internal/fold-run.js";

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

/** Checks one event against the state, then applies it in place (checks first: a refusal changes nothing). */
type Handler<T extends EventType> = (state: RunState, ev: EventOf<T>) => void;

/** One handler per event type; the mapped type makes a new event type without a handler a type error. */
const HANDLERS: { readonly [T in EventType]: Handler<T> } = {
  "run.opened": applyRunOpened,
  "run.recompiled": applyRecompiled,
  "lease.taken": applyLease,
  "lease.taken-over": applyLease,
  "journal.truncated": applyNothing,
  "store.recovered": applyNothing,
  "packet.dispatched": applyDispatched,
  "attempt.recorded": applyAttemptRecorded,
  "packet.reviewed": applyReviewed,
  "packet.completed": applyCompleted,
  "repair.scheduled": applyRepairScheduled,
  "infra.retry-scheduled": applyInfraRetry,
  "packet.failed": applyFailed,
  "packet.abandoned": applyAbandoned,
  "packet.reopened": applyReopened,
  "gate.opened": applyGateOpened,
  "gate.approved": applyGateDecided,
  "gate.rejected": applyGateDecided,
  "handoff.registered": applyHandoff,
  "integration.merged": applyIntegration,
  "integration.conflict": applyIntegration,
  "fanout.expanded": applyFanout,
  "run.completed": applyRunCompleted,
  "run.stopped": applyNothing,
  // A refused approval changes no gate; an attestation records what already happened.
  "approval.refused": applyNothing,
  "attestation.recorded": applyNothing,
};

/** The handler of `ev`'s type; an event type the table does not know is refused. */
function handlerOf(ev: JournalEvent): Handler<EventType> {
  // hasOwn: a type such as "constructor" must not reach Object.prototype.
  if (!Object.hasOwn(HANDLERS, ev.type)) illegal(ev, "unknown event type");
  return HANDLERS[ev.type] as Handler<EventType>;
}

/** Every event moves the head; only run.stopped leaves a stop behind, any later event clears it. */
function advanceHead(state: RunState, ev: JournalEvent): void {
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
 * Apply one event to `state` in place. Every check runs before any change, so a
 * refused event (ERR_JOURNAL_TRANSITION) leaves the state as it was.
 */
export function applyEvent(state: RunState, ev: JournalEvent): void {
  handlerOf(ev)(state, ev);
  advanceHead(state, ev);
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
