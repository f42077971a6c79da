import { runAttempt } from "@dwm/executor";
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
  const { setup, stop, log } = ctx;
  const { ports, dir, git } = setup;
  const processRunner = stop.workerRunner(ports.processRunner);
  const execute = (request: AttemptRequest) =>
    runAttempt(request, {
      processRunner,
      clock: ports.clock,
      attemptDir: attemptDir(dir, request.packet.packet_id, request.attempt),
      env: ports.env,
      git,
      ...(ports.worktreeRoot ? { worktreeRoot: ports.worktreeRoot } : {}),
    });
  const make =
    ports.queue ??
    ((ex: typeof execute, concurrency: number) =>
      createWorkerPool({ concurrency, execute: ex, clock: ports.clock }));
  return make(execute, log.fullFrontier().budget.concurrency_cap);
}
