import type { RunOutcome } from "@dwm/schemas";
import { integrationHead } from "./integration.js";
import type { AttemptQueue, AttemptSettlement } from "./queue.js";
import { ApprovalDesk } from "./run/approval-desk.js";
import { openAttemptQueue } from "./run/attempt-queue.js";
import { Attestor, loopHost } from "./run/attestor.js";
import { Budget } from "./run/budget.js";
import type { RunContext } from "./run/context.js";
import { DispatchStep } from "./run/dispatch-step.js";
import { frontierStep } from "./run/frontier-step.js";
import { Integrator } from "./run/integrator.js";
import { openRun } from "./run/open-run.js";
import { closeRun, type RunEnd, runOutcome } from "./run/outcome.js";
import { Recorder } from "./run/recorder.js";
import { recover } from "./run/recovery.js";
import { RunLog } from "./run/run-log.js";
import { StopControl } from "./run/stop.js";
import { spendOfHistory } from "./run/store.js";
import type { DispatcherPorts, RunWorkflowOptions } from "./run/types.js";
import { drainAfterStop, whenIdle } from "./run/when-to-stop.js";

export type { DispatcherPorts, ProgressEvent, RunWorkflowOptions } from "./run/types.js";

/** The run lock, the stop control and the queue; a queue that cannot be made releases the other two. */
function takeRun(ctx: Omit<RunContext, "stop">, ports: DispatcherPorts): [StopControl, AttemptQueue] {
  const stop = new StopControl(ports);
  ctx.log.keepLease(stop);
  try {
    return [stop, openAttemptQueue({ ...ctx, stop })];
  } catch (e) {
    stop.dispose();
    ctx.log.close();
    throw e;
  }
}

/**
 * Run a compiled run until it is complete, stopped at a gate, out of budget, failed or
 * interrupted. Takes the run lock (a second runner is refused with ERR_RUN_LOCKED),
 * resumes from the journal (attempts in flight when an earlier runner died are marked
 * abandoned and dispatched again; completed packets never run again), then loops:
 * journal approvals, merge completed work into `dwm/<run>/integration`, compute the
 * frontier, open the gates it names, dispatch ready packets into the queue up to the
 * cap, and record each settled attempt once (attempt.recorded, review, ingest).
 */
export async function runWorkflow(
  runDir: string,
  ports: DispatcherPorts,
  options: RunWorkflowOptions,
): Promise<RunOutcome> {
  const startedMs = ports.clock.monotonicMs();
  const setup = await openRun(runDir, ports, options); // checked before anything is journaled
  const budget = new Budget(setup, ports.clock);
  const log = new RunLog(setup, budget); // the run lock
  const [stop, queue] = takeRun({ setup, log, budget }, ports);
  const ctx: RunContext = { setup, log, budget, stop };
  const integrator = new Integrator(ctx);
  const desk = new ApprovalDesk(ctx);
  const attestor = new Attestor(loopHost(ctx));
  const recorder = new Recorder(ctx);
  const dispatch = new DispatchStep(ctx, integrator, queue);
  log.observe(integrator, desk, attestor);
  try {
    const history = log.replayHistory();
    desk.noteHistory(history);
    attestor.noteHistory(history);
    const spent = spendOfHistory(setup.dir, history, options.costOf);
    budget.spend(spent.tokens, spent.usd);
    await integrator.start();
    setup.fan.load(log.state);
    await recover(ctx, queue, recorder);
    await desk.applyOperatorApprovals();
    await desk.absorb();
    log.startLoop();
    let end: RunEnd | null = null;
    let interrupted: Promise<AttemptSettlement | null> | null = null;
    while (end === null && !stop.aborted) {
      await desk.absorbIfDue();
      attestor.attestCompleted();
      await integrator.integrateCompleted(queue.pending);
      const frontier = frontierStep(ctx);
      if (stop.failure === null) dispatch.dispatchAll(frontier.dispatch);
      if (queue.pending > 0) {
        const next = queue.next();
        const settled = await stop.race(next);
        if (settled === "stopped") interrupted = next;
        else if (settled !== null) await recorder.settle(settled, queue);
      } else end = await whenIdle(ctx, desk, frontier);
    }
    if (stop.aborted || end === null) end = await drainAfterStop(ctx, queue, recorder, interrupted);
    attestor.attestCompleted();
    // One run attestation per completion: signed just before run.completed is journaled.
    if (end.status === "complete" && !log.state.completed)
      attestor.attestRun(await integrationHead(setup.gitPorts, setup.runId));
    await closeRun(ctx, queue, end);
    return await runOutcome(ctx, end, startedMs);
  } finally {
    log.stopLease();
    stop.dispose();
    queue.close();
    await queue.dispose?.();
    // No attempt of this run is left to use a shared view (one still running is removed when it ends).
    setup.views?.close();
    log.close();
  }
}
