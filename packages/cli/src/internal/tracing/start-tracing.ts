import type { RunOutcome } from "@dwm/schemas";
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import { BoundedSpanProcessor, type ExportCounts } from "./bounded-processor.js";
import { FINAL_FLUSH_MS, type OtelConfig } from "./otel-env.js";
import { createRunTracer, type TracedProgress } from "./run-tracer.js";

/**
 * HTTP agents whose sockets do not keep the process alive: a collector that accepts and never
 * answers must not hold `dwm` open once its run is over (what it did not take is dropped).
 */
async function unrefAgent(protocol: string): Promise<import("node:http").Agent> {
  const { Agent } = await (protocol === "http:" ? import("node:http") : import("node:https"));
  const agent = new Agent({ keepAlive: true });
  const open = agent.createConnection.bind(agent) as unknown as (
    ...a: unknown[]
  ) => { unref(): void } | undefined;
  (agent as { createConnection: unknown }).createConnection = (...a: unknown[]) => {
    const socket = open(...a);
    socket?.unref();
    return socket;
  };
  return agent;
}

/** A run being traced: its TRACEPARENT, the progress hook, and the end that flushes. */
export interface RunTracing {
  readonly traceparent: string;
  onProgress(p: TracedProgress): void;
  /** End the trace with how the run ended; waits for the collector at most FINAL_FLUSH_MS. */
  finish(outcome: RunOutcome | Error, at: string): Promise<ExportCounts>;
}

/**
 * Trace one `dwm run` to an OTLP/HTTP collector (the SDK's OTLP exporter) through a bounded
 * processor, so a slow or absent collector drops spans and never holds the run back.
 */
export async function startRunTracing(options: {
  config: OtelConfig;
  runDir: string;
  runId: string;
  startedAt: string;
  version: string;
  parent?: string | undefined;
  /** For tests: where spans go instead of the OTLP exporter. */
  exporter?: SpanExporter;
}): Promise<RunTracing> {
  const { config } = options;
  const [{ TracerProvider }, { resourceFromAttributes }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  const exporter =
    options.exporter ??
    new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter({
      url: config.url,
      headers: config.headers,
      // The exporter retries within this time with timers of its own, which would keep `dwm`
      // alive after its run: so no export, retries included, lasts longer than the final flush.
      timeoutMillis: Math.min(config.timeoutMs, FINAL_FLUSH_MS),
      httpAgentOptions: unrefAgent,
    });
  const processor = new BoundedSpanProcessor(exporter, {
    maxQueueSize: config.maxQueueSize,
    maxBatchSize: config.maxBatchSize,
    delayMs: config.delayMs,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    spanProcessors: [processor],
  });
  const tracer = createRunTracer({
    tracer: provider.getTracer("dwm", options.version),
    runDir: options.runDir,
    runId: options.runId,
    startedAt: options.startedAt,
    parent: options.parent,
  });
  return {
    traceparent: tracer.traceparent,
    onProgress: (p) => tracer.onProgress(p),
    async finish(outcome, at) {
      tracer.end(outcome, at);
      return processor.shutdownWithin(FINAL_FLUSH_MS);
    },
  };
}
