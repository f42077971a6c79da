// Small builders of folded states, frontiers and verify reports for the command step tests.
import type { Frontier, PacketState, RunState, VerifyReport } from "@dwm/schemas";

/** A packet's folded state: `state`, and whatever else the test names. */
export function packet(state: PacketState["state"], extra: Partial<PacketState> = {}): PacketState {
  return {
    state,
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
    fanout_from: null,
    seq: 1,
    ...extra,
  };
}

/** A folded run state holding these packets and gates. */
export function runState(parts: Partial<RunState> = {}): RunState {
  return {
    kind: "run-state",
    schema_version: "1",
    run_id: "demo",
    run_digest: `sha256:${"0".repeat(64)}`,
    plan_digest: `sha256:${"1".repeat(64)}`,
    revision: 1,
    seq: 1,
    head: null,
    packets: {},
    gates: {},
    handoffs: {},
    lease: null,
    completed: false,
    stopped: null,
    ...parts,
  };
}

/** A frontier of `status`, empty but for what the test names. */
export function frontier(status: Frontier["status"], parts: Partial<Frontier> = {}): Frontier {
  return {
    kind: "frontier",
    schema_version: "1",
    run_id: "demo",
    seq: 1,
    status,
    dispatch: [],
    ready: [],
    open_gates: [],
    in_flight: [],
    blocked: [],
    waiting_gates: [],
    failed: [],
    completed: [],
    budget: {
      concurrency_cap: 1,
      slots_free: 1,
      attempts_used: 0,
      max_attempts: null,
      tokens_used: 0,
      token_budget: null,
      exhausted: null,
    },
    ...parts,
  };
}

/** A verify report with these problems (ok when there are none). */
export function verifyReport(problems: VerifyReport["problems"] = []): VerifyReport {
  return {
    kind: "verify-report",
    schema_version: "1",
    run_id: "demo",
    ok: problems.length === 0,
    events: 0,
    head: null,
    torn: problems.some((p) => p.repairable),
    files_checked: 0,
    state_cache: "fresh",
    problems,
  };
}
