import type { Frontier, RunOutcome, RunState } from "@dwm/schemas";
import { runtimeGateCategory } from "../fanout.js";
import { integrationBranch, integrationHead } from "../integration.js";
import type { AttemptQueue } from "../queue.js";
import type { RunContext } from "./context.js";
import type { RunSetup } from "./open-run.js";

/** How a run ended: its status and why, in words. */
export interface RunEnd {
  status: RunOutcome["status"];
  detail: string;
}

/** The exit code of each status (`dwm run`'s exit status). */
export const EXIT_OF: Record<RunOutcome["status"], RunOutcome["exit_code"]> = {
  complete: 0,
  gate: 4,
  budget: 5,
  failed: 1,
  interrupted: 1,
};

/** The next command for the operator: approve the first waiting gate, read the first failure's log, or run again. */
export function nextCommand(
  status: RunOutcome["status"],
  runId: string,
  waitingGate: string | undefined,
  failedPacket: string | undefined,
  startBranch?: string,
): RunOutcome["next"] {
  if (status === "complete") return startBranch === undefined ? null : ["dwm", "land", runId];
  if (status === "gate" && waitingGate !== undefined) return ["dwm", "approve", runId, waitingGate];
  if (status === "failed" && failedPacket !== undefined)
    return ["dwm", "log", runId, "--packet", failedPacket];
  return ["dwm", "run", runId];
}

/** The gates the run waits on, each with its category, packets and the command that approves it. */
export function waitingGates(
  f: Frontier,
  state: RunState,
  setup: Pick<RunSetup, "loaded" | "runId">,
): RunOutcome["waiting_gates"] {
  const { loaded, runId } = setup;
  return f.waiting_gates.map((g) => ({
    gate_id: g,
    category: loaded.gates.get(g)?.category ?? runtimeGateCategory(g),
    packets: state.gates[g]?.packets.length
      ? [...(state.gates[g]?.packets ?? [])]
      : [...(loaded.gates.get(g)?.packets ?? [])],
    approve_argv: ["dwm", "approve", runId, g],
  }));
}

/**
 * The run's last event: run.completed (once; then a queue that left refs outside the run store
 * removes them, and failing at that does not fail the run), or run.stopped with the reason.
 */
export async function closeRun(ctx: RunContext, queue: AttemptQueue, end: RunEnd): Promise<void> {
  const { setup, log } = ctx;
  if (end.status !== "complete") {
    log.append([{ type: "run.stopped", data: { reason: end.status, detail: end.detail } }]);
    return;
  }
  if (!log.state.completed) log.append([{ type: "run.completed", data: {} }]);
  try {
    await queue.finish?.(setup.runId);
  } catch (e) {
    log.note(`the run completed; cleaning up after it failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The run outcome (schema run-outcome): status, counts, waiting gates, failures, integration head, next command. */
export async function runOutcome(ctx: RunContext, end: RunEnd, startedMs: number): Promise<RunOutcome> {
  const { setup, log } = ctx;
  const state = log.state;
  const counts: Record<string, number> = {};
  for (const p of Object.values(state.packets)) if (p) counts[p.state] = (counts[p.state] ?? 0) + 1;
  const f = log.fullFrontier();
  const waiting = waitingGates(f, state, setup);
  const head = await integrationHead(setup.gitPorts, setup.runId);
  log.activity.duration_ms = Math.max(0, setup.ports.clock.monotonicMs() - startedMs);
  return {
    kind: "run-outcome",
    schema_version: "1",
    run_id: setup.runId,
    status: end.status,
    exit_code: EXIT_OF[end.status],
    detail: end.detail,
    seq: state.seq,
    head: state.head as RunOutcome["head"],
    counts,
    waiting_gates: waiting,
    failed: f.failed.map((id) => ({ packet_id: id, reason: state.packets[id]?.reason ?? "failed" })),
    integration: head === null ? null : { branch: integrationBranch(setup.runId), commit: head },
    this_run: log.activity,
    next: nextCommand(end.status, setup.runId, waiting[0]?.gate_id, f.failed[0], state.branch),
  };
}
