import type { ProgressEvent } from "@dwm/dispatcher";
import type { RunOutcome } from "@dwm/schemas";
import type { CommandContext } from "../../command.js";
import { dwmVersion } from "../../version.js";
import { otelConfig } from "./otel-env.js";
import type { RunTracing } from "./start-tracing.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Run `run` traced when the environment asks for traces (OTEL_EXPORTER_OTLP_ENDPOINT, ...): the
 * run loop's progress events feed the trace, workers get its TRACEPARENT, and the end waits for
 * the collector only briefly (what does not make it is dropped and counted in a note). Without
 * it, `run` runs as it is and no tracing code loads.
 */
export async function tracedRun(
  ctx: CommandContext,
  target: { runDir: string; runId: string },
  printer: (p: ProgressEvent) => void,
  run: (onProgress: (p: ProgressEvent) => void, env: Env) => Promise<RunOutcome>,
): Promise<RunOutcome> {
  const wanted = otelConfig(ctx.env);
  if ("off" in wanted) return run(printer, ctx.env);
  const { config } = wanted;
  let tracing: RunTracing;
  try {
    const { startRunTracing } = await import("./start-tracing.js");
    tracing = await startRunTracing({
      config,
      runDir: target.runDir,
      runId: target.runId,
      startedAt: ctx.clock.now(),
      version: dwmVersion(),
      parent: ctx.env.TRACEPARENT,
    });
  } catch (e) {
    // Traces are an extra: a run never fails for want of them.
    printer({ kind: "note", message: `traces: off (${e instanceof Error ? e.message : String(e)})` });
    return run(printer, ctx.env);
  }
  const onProgress = (p: ProgressEvent) => {
    printer(p);
    tracing.onProgress(p);
  };
  let outcome: RunOutcome;
  try {
    outcome = await run(onProgress, { ...ctx.env, TRACEPARENT: tracing.traceparent });
  } catch (e) {
    await tracing.finish(e instanceof Error ? e : new Error(String(e)), ctx.clock.now());
    throw e;
  }
  const counts = await tracing.finish(outcome, ctx.clock.now());
  printer({
    kind: "note",
    message: `traces: ${counts.exported} span(s) sent to ${config.url}${counts.dropped ? `, ${counts.dropped} dropped (collector unreachable, too slow, or the queue was full)` : ""}`,
  });
  return outcome;
}
