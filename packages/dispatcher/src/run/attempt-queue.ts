import { type ExecutorPorts, runAttempt } from "@dwm/executor";
import type { AttemptRequest } from "@dwm/schemas";
import { type AttemptQueue, createWorkerPool } from "../queue.js";
import type { RunContext } from "./context.js";
import { attemptDir } from "./store.js";

/**
 * The queue between dispatch and execution (ports.queue, default the in-process pool), sized
 * by the run's concurrency cap. Attempts run with @dwm/executor in this process unless the
 * queue sends them elsewhere; their worker processes get the stop signal.
 */
export function openAttemptQueue(ctx: RunContext): AttemptQueue {
  const { setup, log } = ctx;
  const { ports, dir } = setup;
  const execute = (request: AttemptRequest) =>
    runAttempt(request, executorPorts(ctx, attemptDir(dir, request.packet.packet_id, request.attempt)));
  const make =
    ports.queue ??
    ((ex: typeof execute, concurrency: number) =>
      createWorkerPool({ concurrency, execute: ex, clock: ports.clock }));
  return make(execute, log.fullFrontier().budget.concurrency_cap);
}

/** The executor's ports for an attempt of this run (the candidates' and the reviewer's): workers get the stop signal. */
export function executorPorts(ctx: RunContext, attemptDirectory: string): ExecutorPorts {
  const { ports, git } = ctx.setup;
  return {
    processRunner: ctx.stop.workerRunner(ports.processRunner),
    clock: ports.clock,
    attemptDir: attemptDirectory,
    env: ports.env,
    git,
    ...(ports.worktreeRoot ? { worktreeRoot: ports.worktreeRoot } : {}),
  };
}
