import { digest } from "@dwm/core";
import { applyEvent, type EventDraft, initialState } from "@dwm/runtime";
import type { Gate, JournalEvent, Packet, Review, Run, RunState } from "@dwm/schemas";
import type { RunView } from "../types.js";

export const RUN_ID = "demo-0123456789ab";
const D = (s: string) => digest(s);

function packet(id: string, deps: string[], extra: Partial<Packet> = {}): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: id,
    plan_id: "demo",
    phase: { id, name: id, entry_criteria: [], exit_criteria: [], outputs: [] },
    objective: "demo",
    instruction: `do ${id}`,
    depends_on: deps,
    workers: [],
    inputs: [],
    outputs: [],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 1 },
    stop_conditions: [],
    completion_check: null,
    ...extra,
  };
}

export const WRITE_GATE: Gate = {
  kind: "gate",
  schema_version: "1",
  gate_id: "write",
  category: "write",
  trigger: "packets write files",
  safe_default: "do not dispatch them",
  source: "worker-permission",
  packets: ["implement"],
  review: ["implement: builder may write src/"],
  requires_approval: true,
};

export const HUMAN_GATE: Gate = {
  kind: "gate",
  schema_version: "1",
  gate_id: "human-gate",
  category: "human-review",
  trigger: "phase human_gate is a human gate",
  safe_default: "keep the packet open until an operator approves it",
  source: "human-gate-phase",
  packets: ["human_gate"],
  review: [],
  requires_approval: true,
};

/** inventory → implement (held by `write`) → summary → human_gate (completed by `human-gate`). */
export function demoRun(): RunView {
  const packets = [
    packet("inventory", []),
    packet("implement", ["inventory"], { gates: ["write"] }),
    packet("summary", ["implement"]),
    packet("human_gate", ["summary"], { human_gate: true, completion_gate: "human-gate" }),
  ];
  const gates = [WRITE_GATE, HUMAN_GATE];
  const run: Run = {
    kind: "run",
    schema_version: "1",
    run_id: RUN_ID,
    plan_id: "demo",
    plan_schema_version: "0.6",
    plan_digest: D("plan"),
    scorecard_digest: D("scorecard"),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: null,
    packets: packets.map((p) => ({
      packet_id: p.packet_id,
      digest: digest(p),
      prompt_digest: D(p.packet_id),
      depends_on: p.depends_on,
    })),
    gates: gates.map((g) => ({ gate_id: g.gate_id, digest: digest(g) })),
    handoffs: [],
  };
  return {
    run,
    packets: new Map(packets.map((p) => [p.packet_id, p])),
    gates: new Map(gates.map((g) => [g.gate_id, g])),
  };
}

/** Applies drafts with the runtime's own fold, so every transition is the real one. */
export class Driver {
  readonly state: RunState;
  readonly events: JournalEvent[] = [];
  constructor(readonly view: RunView) {
    this.state = initialState(view.run);
  }
  apply(...drafts: EventDraft[]): void {
    for (const d of drafts) {
      const seq = this.state.seq + 1;
      const ev = {
        seq,
        prev: D(`prev${seq}`),
        type: d.type,
        at: "2026-01-01T00:00:00.000Z",
        data: d.data,
        digest: D(`ev${seq}`),
      } as JournalEvent;
      applyEvent(this.state, ev);
      this.events.push(ev);
    }
  }
  /** Dispatch, record and review one attempt of a packet with the given verdict. */
  attempt(id: string, verdict: Review["verdict"]): number {
    const n = (this.state.packets[id]?.attempts ?? 0) + 1;
    const entry = this.view.run.packets.find((p) => p.packet_id === id);
    this.apply(
      {
        type: "packet.dispatched",
        data: { packet_id: id, attempt: n, packet_digest: entry?.digest ?? D(id), base_commit: null },
      },
      {
        type: "attempt.recorded",
        data: { packet_id: id, attempt: n, outcome: "ok", attempt_digest: D(`${id}${n}`), files: [] },
      },
      {
        type: "packet.reviewed",
        data: {
          packet_id: id,
          attempt: n,
          verdict,
          review_digest: D(`r${id}${n}`),
          files: [{ path: `reviews/${id}/${n}.json`, digest: D(`f${id}${n}`) }],
        },
      },
    );
    return n;
  }
  complete(id: string): void {
    const n = this.attempt(id, "approved");
    this.apply({ type: "packet.completed", data: { packet_id: id, attempt: n } });
  }
  openGate(
    gateId: string,
    packets: string[],
    gateDigest = digest(this.view.gates.get(gateId) ?? gateId),
  ): void {
    this.apply({
      type: "gate.opened",
      data: { gate_id: gateId, gate_digest: gateDigest, packets, reason: `${gateId} waits` },
    });
  }
}

export function reviewOf(id: string, attempt: number, extra: Partial<Review> = {}): Review {
  return {
    kind: "review",
    schema_version: "1",
    reviewer_version: "0.1.0",
    run_id: RUN_ID,
    packet_id: id,
    packet_digest: D(id),
    attempt,
    attempt_digest: D(`${id}${attempt}`),
    outcome: "ok",
    verdict: "approved",
    findings: [],
    checks: [],
    handoffs: [{ artifact: "decision.md", path: "outputs/decision.md", digest: D("decision"), bytes: 10 }],
    diff: null,
    branch: `dwm/${RUN_ID}/${id}/${attempt}`,
    head_commit: "c".repeat(40),
    reviewer_worker: null,
    reviewed_at: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}
