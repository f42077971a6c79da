import fs from "node:fs";
import path from "node:path";
import type { JournalEvent, RunOutcome } from "@dwm/schemas";
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";

// OpenTelemetry semantic conventions still in development (so not exported as stable); names as
// the conventions spell them.
const ATTR_PROCESS_EXIT_CODE = "process.exit.code";
const ATTR_GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens";
const ATTR_GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
const ATTR_GEN_AI_PROVIDER = "gen_ai.provider.name";
const ATTR_VCS_HEAD_REVISION = "vcs.ref.head.revision";

/** The provider an agent backend talks to (gen_ai.provider.name), when it is one. */
const PROVIDER: Record<string, string> = { codex: "openai", claude: "anthropic" };

/** The part of the run loop's progress the tracer reads (ProgressEvent of @dwm/dispatcher). */
export type TracedProgress = { kind: "event"; event: JournalEvent } | { kind: "note"; message: string };

/** A run's trace as the run goes: spans made from the run loop's progress events. */
export interface RunTracer {
  /** W3C traceparent of the run's span: workers get it in TRACEPARENT, so their spans join the trace. */
  readonly traceparent: string;
  onProgress(p: TracedProgress): void;
  /** End every open span (open gates and packets at `at`) and the run's span, with how the run ended. */
  end(outcome: RunOutcome | Error, at: string): void;
}

interface FileRef {
  path: string;
}

/** A W3C traceparent (`00-<trace id>-<span id>-<flags>`) as a parent context, or ROOT_CONTEXT when absent or malformed. */
export function parentContext(traceparent: string | undefined): Context {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent?.trim() ?? "");
  if (!m || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: Number.parseInt(m[3] as string, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/** The W3C traceparent of a span. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-0${(c.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

const time = (at: string): Date => new Date(at);

/** What a packet's spans hang on while the run goes. */
interface PacketSpans {
  span: Span;
  attempt: Span | null;
  attemptNo: number;
  /** When its last attempt was recorded: where its review starts. */
  recordedAt: string | null;
  /** When it completed: where its integration starts. */
  completedAt: string | null;
  state: string;
}

/** What `createRunTracer` needs: the tracer, the run, when it started, and who started it. */
export interface RunTracerOptions {
  tracer: Tracer;
  runDir: string;
  runId: string;
  startedAt: string;
  /** TRACEPARENT of whoever started `dwm run`, when it runs inside a trace. */
  parent?: string | undefined;
}

/**
 * The span tree of one `dwm run`, from the journal events the run loop reports (it needs no
 * tracing code of its own): the run; under it each packet (and its attempts with their checks,
 * its reviews and its integration) and each gate wait. Times come from the events and the
 * attempt evidence, so the tree tells what the journal tells.
 */
export function createRunTracer(options: RunTracerOptions): RunTracer {
  return new RunTrace(options);
}

type Handler = (e: JournalEvent, d: Record<string, unknown>) => void;

class RunTrace implements RunTracer {
  readonly traceparent: string;
  private readonly run: Span;
  private readonly runCtx: Context;
  private readonly packets = new Map<string, PacketSpans>();
  private readonly gates = new Map<string, Span>();
  private lastAt: string;
  private readonly handlers: Record<string, Handler> = {
    "packet.dispatched": (e, d) => this.dispatched(e, d),
    "attempt.recorded": (e, d) => this.recorded(e, d),
    "packet.reviewed": (e, d) => this.reviewed(e, d),
    "packet.completed": (e, d) => {
      const p = this.packetOf(d.packet_id as string, e.at);
      p.completedAt = e.at;
      p.state = "completed";
    },
    "integration.merged": (e, d) => this.integration(e, d, "merged"),
    "integration.conflict": (e, d) => this.integration(e, d, "conflict"),
    "packet.failed": (e, d) => this.endPacket(d.packet_id as string, "failed", e.at),
    "packet.abandoned": (e, d) => this.abandoned(e, d),
    "gate.opened": (e, d) => this.gateOpened(e, d),
    "gate.approved": (e, d) => this.decided(e, d, "approved"),
    "gate.rejected": (e, d) => this.decided(e, d, "rejected"),
  };

  constructor(private readonly options: RunTracerOptions) {
    const planId = readPlanId(options.runDir);
    this.run = options.tracer.startSpan(
      "dwm.run",
      {
        kind: SpanKind.INTERNAL,
        startTime: time(options.startedAt),
        attributes: { "dwm.run.id": options.runId, ...(planId ? { "dwm.plan.id": planId } : {}) },
      },
      parentContext(options.parent),
    );
    this.runCtx = trace.setSpan(ROOT_CONTEXT, this.run);
    this.traceparent = traceparentOf(this.run);
    this.lastAt = options.startedAt;
  }

  onProgress(p: TracedProgress): void {
    if (p.kind !== "event") return;
    this.lastAt = p.event.at;
    try {
      this.handlers[p.event.type]?.(p.event, p.event.data as Record<string, unknown>);
    } catch {
      // A trace must never stop a run: an event that cannot be traced is left out.
    }
  }

  end(outcome: RunOutcome | Error, at: string): void {
    const endAt = at < this.lastAt ? this.lastAt : at;
    for (const [, span] of this.gates) {
      span.setAttributes({ "dwm.gate.decision": "pending" });
      span.end(time(endAt));
    }
    this.gates.clear();
    for (const [id, p] of [...this.packets]) this.endPacket(id, p.state, endAt);
    if (outcome instanceof Error) {
      this.run.setAttributes({ [ATTR_ERROR_TYPE]: (outcome as { code?: string }).code ?? outcome.name });
      this.run.setStatus({ code: SpanStatusCode.ERROR, message: outcome.message });
    } else {
      this.run.setAttributes({
        "dwm.run.status": outcome.status,
        [ATTR_PROCESS_EXIT_CODE]: outcome.exit_code,
        "dwm.run.attempts": outcome.this_run.attempts,
      });
      if (outcome.status === "failed" || outcome.status === "interrupted") {
        this.run.setAttributes({ [ATTR_ERROR_TYPE]: outcome.status });
        this.run.setStatus({ code: SpanStatusCode.ERROR, message: outcome.detail });
      }
    }
    this.run.end(time(endAt));
  }

  private child(name: string, parent: Context, at: string, attributes: Attributes): Span {
    return this.options.tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, startTime: time(at), attributes },
      parent,
    );
  }

  private packetOf(id: string, at: string): PacketSpans {
    let p = this.packets.get(id);
    if (!p) {
      p = {
        span: this.child("dwm.packet", this.runCtx, at, { "dwm.packet.id": id }),
        attempt: null,
        attemptNo: 0,
        recordedAt: null,
        completedAt: null,
        state: "pending",
      };
      this.packets.set(id, p);
    }
    return p;
  }

  private endPacket(id: string, state: string, at: string): void {
    const p = this.packets.get(id);
    if (!p) return;
    p.attempt?.end(time(at));
    p.span.setAttributes({ "dwm.packet.state": state, "dwm.packet.attempts": p.attemptNo });
    if (state === "failed") p.span.setStatus({ code: SpanStatusCode.ERROR, message: "packet failed" });
    p.span.end(time(at));
    this.packets.delete(id);
  }

  private dispatched(e: JournalEvent, d: Record<string, unknown>): void {
    const p = this.packetOf(d.packet_id as string, e.at);
    p.attempt?.end(time(e.at));
    p.attemptNo = d.attempt as number;
    p.state = "dispatched";
    const backend = typeof d.backend === "string" ? d.backend : undefined;
    const provider = backend ? PROVIDER[backend] : undefined;
    p.attempt = this.child("dwm.attempt", trace.setSpan(ROOT_CONTEXT, p.span), e.at, {
      "dwm.packet.id": d.packet_id as string,
      "dwm.attempt.number": d.attempt as number,
      ...(backend ? { "dwm.backend": backend } : {}),
      ...(provider ? { [ATTR_GEN_AI_PROVIDER]: provider } : {}),
    });
  }

  private recorded(e: JournalEvent, d: Record<string, unknown>): void {
    const p = this.packetOf(d.packet_id as string, e.at);
    const span = p.attempt ?? this.child("dwm.attempt", trace.setSpan(ROOT_CONTEXT, p.span), e.at, {});
    const file = fileOf(d, "/attempt.json");
    const attempt = file ? readJson(path.join(this.options.runDir, file)) : null;
    recordAttempt(this.options.tracer, span, d, attempt, e.at);
    p.attempt = null;
    p.recordedAt = e.at;
    p.state = "attempted";
  }

  private reviewed(e: JournalEvent, d: Record<string, unknown>): void {
    const p = this.packetOf(d.packet_id as string, e.at);
    const file = fileOf(d, ".json");
    const review = file ? readJson(path.join(this.options.runDir, file)) : null;
    const findings = Array.isArray(review?.findings) ? review.findings.length : 0;
    this.child("dwm.review", trace.setSpan(ROOT_CONTEXT, p.span), p.recordedAt ?? e.at, {
      "dwm.packet.id": d.packet_id as string,
      "dwm.attempt.number": d.attempt as number,
      "dwm.review.verdict": d.verdict as string,
      "dwm.review.findings": findings,
    }).end(time(e.at));
    p.state = "reviewed";
  }

  private integration(e: JournalEvent, d: Record<string, unknown>, result: "merged" | "conflict"): void {
    const id = d.packet_id as string;
    const p = this.packetOf(id, e.at);
    const span = this.child("dwm.integration", trace.setSpan(ROOT_CONTEXT, p.span), p.completedAt ?? e.at, {
      "dwm.packet.id": id,
      "dwm.integration.result": result,
      ...(typeof d.commit === "string" ? { [ATTR_VCS_HEAD_REVISION]: d.commit } : {}),
      ...(typeof d.gate_id === "string" ? { "dwm.gate.id": d.gate_id } : {}),
    });
    if (result === "conflict") span.setAttributes({ [ATTR_ERROR_TYPE]: "merge-conflict" });
    span.end(time(e.at));
    if (result === "merged") this.endPacket(id, "completed", e.at);
  }

  private abandoned(e: JournalEvent, d: Record<string, unknown>): void {
    const p = this.packets.get(d.packet_id as string);
    if (!p?.attempt) return;
    p.attempt.setAttributes({ [ATTR_ERROR_TYPE]: "abandoned" });
    p.attempt.setStatus({ code: SpanStatusCode.ERROR, message: d.reason as string });
    p.attempt.end(time(e.at));
    p.attempt = null;
  }

  private gateOpened(e: JournalEvent, d: Record<string, unknown>): void {
    const id = d.gate_id as string;
    if (this.gates.has(id)) return;
    this.gates.set(
      id,
      this.child("dwm.gate.wait", this.runCtx, e.at, {
        "dwm.gate.id": id,
        "dwm.gate.packets": (d.packets as string[]) ?? [],
        "dwm.gate.reason": d.reason as string,
      }),
    );
  }

  private decided(e: JournalEvent, d: Record<string, unknown>, decision: string): void {
    const span = this.gates.get(d.gate_id as string);
    if (!span) return; // decided before it opened in this run (a policy, or an earlier decision)
    span.setAttributes({ "dwm.gate.decision": decision });
    span.end(time(e.at));
    this.gates.delete(d.gate_id as string);
  }
}

function fileOf(d: Record<string, unknown>, suffix: string): string | undefined {
  return ((d.files as FileRef[] | undefined) ?? []).find((f) => f.path.endsWith(suffix))?.path;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function readPlanId(runDir: string): string | null {
  const run = readJson(path.join(runDir, "run.json"));
  return typeof run?.plan_id === "string" ? run.plan_id : null;
}

interface CheckRecord {
  id: string;
  kind: string;
  command: string;
  passed: boolean;
  exit_code: number | null;
  duration_ms: number;
}

/**
 * An attempt's span from its evidence: outcome (error.type when it is not ok: the failure
 * class), exit code, tokens and cost; one child span per check DWM ran, laid end to end before
 * the attempt finished (the evidence keeps each check's duration, not its start).
 */
function recordAttempt(
  tracer: Tracer,
  span: Span,
  d: Record<string, unknown>,
  attempt: Record<string, unknown> | null,
  at: string,
): void {
  const outcome = d.outcome as string;
  span.setAttributes({ "dwm.attempt.outcome": outcome });
  if (outcome !== "ok") {
    span.setAttributes({ [ATTR_ERROR_TYPE]: outcome });
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  if (attempt === null) {
    span.end(time(at));
    return;
  }
  if (typeof attempt.exit_code === "number")
    span.setAttributes({ [ATTR_PROCESS_EXIT_CODE]: attempt.exit_code });
  const tokens = attempt.tokens as Record<string, number> | null | undefined;
  if (tokens) {
    span.setAttributes({
      ...(tokens.input_tokens === undefined ? {} : { [ATTR_GEN_AI_INPUT_TOKENS]: tokens.input_tokens }),
      ...(tokens.output_tokens === undefined ? {} : { [ATTR_GEN_AI_OUTPUT_TOKENS]: tokens.output_tokens }),
      ...(tokens.total_tokens === undefined ? {} : { "dwm.tokens.total": tokens.total_tokens }),
      ...(tokens.cost_usd === undefined ? {} : { "dwm.cost.usd": tokens.cost_usd }),
    });
  }
  const finished = typeof attempt.finished_at === "string" ? attempt.finished_at : at;
  const checks = (attempt.checks as CheckRecord[] | undefined) ?? [];
  let startMs = Date.parse(finished) - checks.reduce((n, c) => n + c.duration_ms, 0);
  const ctx = trace.setSpan(ROOT_CONTEXT, span);
  for (const c of checks) {
    const check = tracer.startSpan(
      "dwm.check",
      {
        startTime: new Date(startMs),
        attributes: {
          "dwm.check.id": c.id,
          "dwm.check.kind": c.kind,
          "dwm.check.command": c.command,
          "dwm.check.passed": c.passed,
          ...(c.exit_code === null ? {} : { [ATTR_PROCESS_EXIT_CODE]: c.exit_code }),
        },
      },
      ctx,
    );
    if (!c.passed) {
      check.setAttributes({ [ATTR_ERROR_TYPE]: "check-failed" });
      check.setStatus({ code: SpanStatusCode.ERROR });
    }
    startMs += c.duration_ms;
    check.end(new Date(startMs));
  }
  span.end(time(finished));
}
