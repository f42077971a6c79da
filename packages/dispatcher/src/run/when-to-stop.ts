import type { FrontierSummary } from "@dwm/scheduler";
import type { Frontier, RunState } from "@dwm/schemas";
import type { AttemptQueue, AttemptSettlement } from "../queue.js";
import type { ApprovalDesk } from "./approval-desk.js";
import type { RunContext } from "./context.js";
import type { RunEnd } from "./outcome.js";
import type { Recorder } from "./recorder.js";
import type { RunWorkflowOptions } from "./types.js";

/** What the loop does when nothing is in flight. */
export type IdleDecision =
  /** Stop with this status; detail null: describe the stop from the frontier (describeStop). */
  | { kind: "stop"; status: RunEnd["status"]; detail: string | null }
  /** Work became ready meanwhile: take another turn. */
  | { kind: "go-on" }
  /** Only infrastructure retries are left, waiting for their time. */
  | { kind: "wait-retry" }
  /** Only gates hold work and the run waits for decisions there (until=complete). */
  | { kind: "wait-decision" };

/**
 * Decide what the loop does when the queue is empty: a failure stops it as failed; a complete
 * frontier completes it; a gate stops it (until=gate) or waits for a decision (until=complete);
 * a spent budget stops it; pending infrastructure retries are waited for.
 */
export function decideWhenIdle(
  frontier: Pick<Frontier, "status">,
  run: { runId: string; failure: string | null; until: RunWorkflowOptions["until"] },
): IdleDecision {
  if (run.failure !== null) return { kind: "stop", status: "failed", detail: run.failure };
  switch (frontier.status) {
    case "complete":
      return { kind: "stop", status: "complete", detail: `every packet of ${run.runId} is completed` };
    case "running":
      return { kind: "go-on" };
    case "waiting":
      return { kind: "wait-retry" };
    case "gate":
      return run.until === "complete"
        ? { kind: "wait-decision" }
        : { kind: "stop", status: "gate", detail: null };
    case "budget":
      return { kind: "stop", status: "budget", detail: null };
    default:
      return { kind: "stop", status: "failed", detail: null };
  }
}

/** Why the run stopped, in words, from the frontier at the stop. */
export function describeStop(f: Frontier, state: RunState): string {
  if (f.status === "gate") return `waiting for a decision on ${f.waiting_gates.join(", ")}`;
  if (f.status === "budget") {
    if (f.budget.exhausted === "usd") {
      return `USD budget spent: $${(f.budget.usd_spent ?? 0).toFixed(2)} of $${f.budget.usd_budget}`;
    }
    return f.budget.exhausted === "tokens"
      ? `token budget spent: ${f.budget.tokens_used} of ${f.budget.token_budget}`
      : `attempt budget spent: ${f.budget.attempts_used} of ${f.budget.max_attempts}`;
  }
  const failed = f.failed.map((id) => `${id} (${state.packets[id]?.reason ?? "failed"})`);
  if (failed.length > 0) return `failed: ${failed.join("; ")}`;
  const held = f.blocked.map((b) => `${b.packet_id}: ${b.detail}`);
  return held.length > 0 ? `nothing can run: ${held.join("; ")}` : "nothing can run";
}

/** Act on decideWhenIdle: the run's end, or null after waiting (or at once) for another turn. */
export async function whenIdle(
  ctx: RunContext,
  desk: ApprovalDesk,
  frontier: FrontierSummary,
): Promise<RunEnd | null> {
  const { setup, log, budget, stop } = ctx;
  const d = decideWhenIdle(frontier, {
    runId: setup.runId,
    failure: stop.failure,
    until: setup.options.until,
  });
  if (d.kind === "stop")
    return { status: d.status, detail: d.detail ?? describeStop(log.fullFrontier(), log.state) };
  if (d.kind === "wait-retry") {
    const wait = budget.msUntilRetry();
    log.note(`waiting ${Math.max(0, wait)} ms for an infrastructure retry`);
    await stop.sleep(Math.max(1, wait));
  } else if (d.kind === "wait-decision") {
    const before = log.state.seq;
    await desk.absorb();
    if (log.state.seq === before) {
      log.note(
        `waiting for a decision on ${frontier.waiting_gates.join(", ")} (dwm approve ${setup.runId} <gate>)`,
      );
      await stop.sleep(setup.options.pollMs ?? 1000);
    }
  }
  return null;
}

/**
 * After an interrupt: the queue takes no more jobs, and each attempt still running settles (its
 * worker was killed) and is abandoned, to run again on resume. `interrupted`: the take the stop
 * cut short, whose settlement is the first to drain. A lost lock is thrown from here.
 */
export async function drainAfterStop(
  ctx: RunContext,
  queue: AttemptQueue,
  recorder: Recorder,
  interrupted: Promise<AttemptSettlement | null> | null,
): Promise<RunEnd> {
  queue.close();
  for (let take = interrupted ?? queue.next(); ; take = queue.next()) {
    const s = await take;
    if (s === null) break;
    recorder.abandon(
      s.request.packet.packet_id,
      s.request.attempt,
      "the runner was interrupted while it ran",
    );
  }
  if (ctx.stop.leaseError !== null) throw ctx.stop.leaseError;
  return {
    status: "interrupted",
    detail: "interrupted: attempts that were running are abandoned and run again on resume",
  };
}
