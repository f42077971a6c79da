/** Where and how `dwm run` sends its traces, read from the standard OTEL_* variables. */
export interface OtelConfig {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  maxQueueSize: number;
  maxBatchSize: number;
  delayMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** How long the end of a run waits for the collector before it drops what is left. */
export const FINAL_FLUSH_MS = 2000;

function list(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (v ?? "").split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed pair is left out, as the specification asks
    }
  }
  return out;
}

function whole(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The trace export `env` asks for, or why there is none: off unless OTEL_EXPORTER_OTLP_ENDPOINT
 * or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER
 * without otlp, or the grpc protocol (not supported: DWM sends OTLP/HTTP) turn it off.
 */
export function otelConfig(env: Env): { config: OtelConfig } | { off: string } {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!traces && !base) return { off: "no OTEL_EXPORTER_OTLP_ENDPOINT" };
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return { off: "OTEL_SDK_DISABLED=true" };
  const exporters = env.OTEL_TRACES_EXPORTER?.split(",").map((s) => s.trim());
  if (exporters && !exporters.includes("otlp"))
    return { off: `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}` };
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol === "grpc") return { off: "OTEL_EXPORTER_OTLP_PROTOCOL=grpc (DWM sends OTLP/HTTP)" };
  const url = traces || `${(base as string).replace(/\/+$/, "")}/v1/traces`;
  return {
    config: {
      url,
      headers: { ...list(env.OTEL_EXPORTER_OTLP_HEADERS), ...list(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
      timeoutMs: whole(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000),
      serviceName: env.OTEL_SERVICE_NAME?.trim() || "dwm",
      resourceAttributes: list(env.OTEL_RESOURCE_ATTRIBUTES),
      maxQueueSize: whole(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048),
      maxBatchSize: whole(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
      delayMs: whole(env.OTEL_BSP_SCHEDULE_DELAY, 5000),
    },
  };
}
