// Small builders of the schema types the run loop's parts decide over, for their unit tests.
import type { Frontier, GateState, PacketState, RunState } from "@dwm/schemas";
import { Budget } from "../run/budget.js";
import type { RunContext } from "../run/context.js";
import { openRun } from "../run/open-run.js";
import { RunLog } from "../run/run-log.js";
import { StopControl } from "../run/stop.js";
import type { DispatcherPorts, ProgressEvent, RunWorkflowOptions } from "../run/types.js";
import { type ExampleRepo, exampleRepo, realPorts } from "./example.js";
import { OPERATOR } from "./operator.js";

/** A packet's state: pending, nothing happened, unless told otherwise. */
export function packetState(p: Partial<PacketState> = {}): PacketState {
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
    fanout_from: null,
    seq: 0,
    ...p,
  };
}

/** A gate's state: closed unless told otherwise. */
export function gateState(g: Partial<GateState> = {}): GateState {
  return {
    state: "closed",
    gate_digest: null,
    packets: [],
    reason: null,
    approval_digest: null,
    seq: 0,
    ...g,
  };
}

/** A folded run state holding these packets and gates. */
export function runState(
  packets: Record<string, PacketState> = {},
  gates: Record<string, GateState> = {},
): RunState {
  return {
    kind: "run-state",
    schema_version: "1",
    run_id: "r",
    run_digest: `sha256:${"0".repeat(64)}`,
    plan_digest: `sha256:${"1".repeat(64)}`,
    revision: 1,
    seq: 1,
    head: null,
    packets,
    gates,
    handoffs: {},
    lease: null,
    completed: false,
    stopped: null,
  };
}

/** A frontier with nothing in it (status running) unless told otherwise. */
export function frontierOf(f: Partial<Frontier> = {}): Frontier {
  return {
    kind: "frontier",
    schema_version: "1",
    run_id: "r",
    seq: 1,
    status: "running",
    dispatch: [],
    ready: [],
    open_gates: [],
    expand: [],
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
    ...f,
  };
}

export interface ExampleContext {
  ex: ExampleRepo;
  ctx: RunContext;
  /** Every progress report, in order. */
  progress: ProgressEvent[];
  notes: () => string[];
  /** Release the lock and remove the repository. */
  close: () => void;
}

/**
 * The parts' shared context on a fresh copy of an example (its journal open, its lock held),
 * for unit tests of one part against a real run store.
 */
export async function exampleContext(
  name: string,
  options: Partial<RunWorkflowOptions> = {},
  ports: Partial<DispatcherPorts> = {},
): Promise<ExampleContext> {
  const ex = exampleRepo(name);
  const progress: ProgressEvent[] = [];
  const allPorts: DispatcherPorts = { ...realPorts(), onProgress: (p) => progress.push(p), ...ports };
  const setup = await openRun(ex.compiled.runDir, allPorts, {
    repo: ex.repo.path,
    bindings: ex.bindings,
    bindingsDigest: ex.bindingsDigest,
    operator: OPERATOR,
    ...options,
  });
  const budget = new Budget(setup, allPorts.clock);
  const log = new RunLog(setup, budget);
  const stop = new StopControl(allPorts);
  return {
    ex,
    ctx: { setup, log, budget, stop },
    progress,
    notes: () => progress.flatMap((p) => (p.kind === "note" ? [p.message] : [])),
    close: () => {
      stop.dispose();
      log.close();
      ex.repo.cleanup();
    },
  };
}
