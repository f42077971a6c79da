import { digest } from "@dwm/core";
import { applyEvent, type EventDraft, initialState } from "@dwm/runtime";
import type { Gate, JournalEvent, Packet, Review, Run, RunState } from "@dwm/schemas";

export const RUN_ID = "demo-0123456789ab";
const D = (s: string) => digest(s);

export function packet(id: string, extra: Partial<Packet> = {}): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: id,
    plan_id: "demo",
    phase: { id, name: id, entry_criteria: [], exit_criteria: [], outputs: [] },
    objective: "demo",
    instruction: `do ${id}`,
    depends_on: [],
    workers: [],
    inputs: [],
    outputs: [],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 2 },
    stop_conditions: [],
    completion_check: null,
    ...extra,
  };
}

export const HUMAN_GATE: Gate = {
  kind: "gate",
  schema_version: "1",
  gate_id: "human-gate",
  category: "human-review",
  trigger: "phase human_gate is a human gate",
  safe_default: "keep it open",
  source: "human-gate-phase",
  packets: ["human_gate"],
  review: [],
  requires_approval: true,
};

export function makeRun(packets: Packet[]): Run {
  return {
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
    gates: [{ gate_id: HUMAN_GATE.gate_id, digest: digest(HUMAN_GATE) }],
    handoffs: [],
  };
}

/** Applies drafts with the runtime's own fold, so every transition is the real one. */
export class Driver {
  readonly state: RunState;
  constructor(readonly run: Run) {
    this.state = initialState(run);
  }
  apply(...drafts: EventDraft[]): void {
    for (const d of drafts) {
      const seq = this.state.seq + 1;
      const ev = {
        seq,
        prev: D(`p${seq}`),
        type: d.type,
        at: "2026-01-01T00:00:00.000Z",
        data: d.data,
        digest: D(`e${seq}`),
      } as JournalEvent;
      applyEvent(this.state, ev);
    }
  }
  /** Dispatch and record the next attempt; returns its number. */
  attempt(p: Packet, outcome: Review["outcome"] = "ok"): number {
    const n = (this.state.packets[p.packet_id]?.attempts ?? 0) + 1;
    this.apply(
      {
        type: "packet.dispatched",
        data: { packet_id: p.packet_id, attempt: n, packet_digest: digest(p), base_commit: null },
      },
      {
        type: "attempt.recorded",
        data: { packet_id: p.packet_id, attempt: n, outcome, attempt_digest: D(`a${n}`), files: [] },
      },
    );
    return n;
  }
}

export function review(
  p: Packet,
  attempt: number,
  verdict: Review["verdict"],
  extra: Partial<Review> = {},
): Review {
  return {
    kind: "review",
    schema_version: "1",
    reviewer_version: "0.1.0",
    run_id: RUN_ID,
    packet_id: p.packet_id,
    packet_digest: digest(p),
    attempt,
    attempt_digest: D(`a${attempt}`),
    outcome: verdict === "infra-failed" ? "timeout" : "ok",
    verdict,
    findings:
      verdict === "approved"
        ? []
        : [
            {
              code:
                verdict === "infra-failed"
                  ? "REVIEW_INFRA_FAILURE"
                  : verdict === "needs-human"
                    ? "REVIEW_UNVERIFIABLE"
                    : "REVIEW_VALIDATION_FAILED",
              message: "m",
              effect: verdict === "infra-failed" ? "infra" : verdict === "needs-human" ? "human" : "repair",
              evidence: [],
            },
          ],
    checks: [],
    handoffs: [],
    diff: null,
    branch: `dwm/${RUN_ID}/${p.packet_id}/${attempt}`,
    head_commit: "c".repeat(40),
    reviewer_worker: null,
    reviewed_at: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}
