import path from "node:path";
import { type ExecutorPorts, runAttempt } from "@dwm/executor";
import type { AttemptRequest } from "@dwm/schemas";
import { type AttemptQueue, createWorkerPool } from "../queue.js";
import { checkQueueResume, runInstance } from "../run-identity.js";
import type { RunContext } from "./context.js";
import { attemptDir } from "./store.js";

/**
 * The queue between dispatch and execution (ports.queue, default the in-process pool), sized
 * by the run's concurrency cap. Attempts run with @dwm/executor in this process unless the
 * queue sends them elsewhere; their worker processes get the stop signal. A run with attempts
 * in flight in a distributed queue this one is not is refused (checkQueueResume).
 */
export function openAttemptQueue(ctx: RunContext): AttemptQueue {
  const { setup, log } = ctx;
  const { ports, dir } = setup;
  const execute = (request: AttemptRequest) =>
    runAttempt(request, executorPorts(ctx, attemptDir(dir, request.packet.packet_id, request.attempt)));
  const cap = log.fullFrontier().budget.concurrency_cap;
  const queue = ports.queue
    ? ports.queue(execute, cap, { runId: setup.runId, instance: runInstance(dir, log.state) })
    : createWorkerPool({ concurrency: cap, execute, clock: ports.clock });
  try {
    const left = checkQueueResume(log.state, queue.origin, setup.options.abandonQueued === true);
    if (left.length > 0) log.note(`--abandon-queued: ${left.join(", ")} run again; their jobs are ignored`);
  } catch (e) {
    queue.close();
    void queue.dispose?.();
    throw e;
  }
  return queue;
}

/** The executor's ports for an attempt of this run (the candidates' and the reviewer's): workers get the stop signal. */
export function executorPorts(ctx: RunContext, attemptDirectory: string): ExecutorPorts {
  const { ports, git, dir } = ctx.setup;
  return {
    processRunner: ctx.stop.workerRunner(ports.processRunner),
    clock: ports.clock,
    attemptDir: attemptDirectory,
    env: ports.env,
    git,
    ...(ports.sandbox ? { sandbox: ports.sandbox } : {}),
    // The store this run lives in, wherever --store put it (`<repo>/.dwm` is hidden anyway).
    hidden: [path.dirname(dir)],
    ...(ports.worktreeRoot ? { worktreeRoot: ports.worktreeRoot } : {}),
    ...(ctx.setup.views ? { views: ctx.setup.views } : {}),
  };
}
