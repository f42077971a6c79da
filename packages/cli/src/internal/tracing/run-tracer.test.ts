// The span tree of a run, from journal events, checked with the SDK's in-memory exporter; the
// bounded processor (drop and count, never wait long); the OTEL_* configuration.
import fs from "node:fs";
import path from "node:path";
import type { JournalEvent, RunOutcome } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { SpanStatusCode } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BoundedSpanProcessor } from "./bounded-processor.js";
import { otelConfig } from "./otel-env.js";
import { createRunTracer, parentContext } from "./run-tracer.js";

const PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";
const T = (s: number) => new Date(Date.UTC(2026, 2, 1, 12, 0, s)).toISOString();

let seq = 0;
function ev(type: string, at: number, data: Record<string, unknown>): { kind: "event"; event: JournalEvent } {
  seq++;
  return {
    kind: "event",
    event: { seq, prev: "x", type, at: T(at), data, digest: "y" } as unknown as JournalEvent,
  };
}

function attemptDoc(over: Record<string, unknown>): Record<string, unknown> {
  return { exit_code: 0, tokens: null, checks: [], started_at: T(0), finished_at: T(0), ...over };
}

/** A run directory holding run.json and the evidence files the events name. */
function runStore(dir: string): void {
  const write = (rel: string, doc: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), JSON.stringify(doc));
  };
  write("run.json", { plan_id: "demo" });
  write(
    "attempts/a/1/attempt.json",
    attemptDoc({
      finished_at: T(10),
      tokens: { input_tokens: 1200, output_tokens: 40, total_tokens: 1240, cost_usd: 0.0123 },
      checks: [
        {
          id: "v1",
          kind: "validation",
          command: "test -f out.md",
          passed: true,
          exit_code: 0,
          duration_ms: 1000,
        },
        {
          id: "v2",
          kind: "verification",
          command: "npm test",
          passed: false,
          exit_code: 1,
          duration_ms: 2000,
        },
      ],
    }),
  );
  write("reviews/a/1.json", { verdict: "approved", findings: [] });
  write("attempts/c/1/attempt.json", attemptDoc({ exit_code: 3, finished_at: T(22) }));
  write("reviews/c/1.json", { verdict: "changes-requested", findings: [{ code: "x" }, { code: "y" }] });
  write("attempts/c/2/attempt.json", attemptDoc({ exit_code: null, finished_at: T(40) }));
  write("reviews/c/2.json", { verdict: "infra-failed", findings: [] });
}

const files = (...paths: string[]) => paths.map((p) => ({ path: p, digest: "sha256:0" }));

function outcome(over: Partial<RunOutcome>): RunOutcome {
  return {
    status: "gate",
    exit_code: 4,
    detail: "waiting for a decision on g",
    this_run: { attempts: 3, events: 20, abandoned: [], approvals: [] },
    ...over,
  } as RunOutcome;
}

describe("the run's span tree", () => {
  let dir: TempDir;
  let exporter: InMemorySpanExporter;
  let provider: TracerProvider;

  beforeEach(() => {
    dir = makeTempDir("dwm-trace-");
    runStore(dir.path);
    exporter = new InMemorySpanExporter();
    provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });
  afterEach(() => dir.cleanup());

  it("a run, its packets with attempts, checks, reviews and integration, and its gate waits, with their attributes", async () => {
    const t = createRunTracer({
      tracer: provider.getTracer("test"),
      runDir: dir.path,
      runId: "demo-1",
      startedAt: T(0),
      parent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`,
    });
    for (const p of [
      ev("run.opened", 0, { packets: ["a", "c"] }),
      ev("packet.dispatched", 1, { packet_id: "a", attempt: 1, backend: "claude" }),
      ev("attempt.recorded", 11, {
        packet_id: "a",
        attempt: 1,
        outcome: "ok",
        files: files("attempts/a/1/attempt.json", "attempts/a/1/stdout"),
      }),
      ev("packet.reviewed", 12, {
        packet_id: "a",
        attempt: 1,
        verdict: "approved",
        files: files("reviews/a/1.json"),
      }),
      ev("packet.completed", 12, { packet_id: "a", attempt: 1 }),
      ev("integration.merged", 13, { packet_id: "a", commit: "c0ffee" }),
      ev("packet.dispatched", 14, { packet_id: "c", attempt: 1, backend: "shell" }),
      ev("attempt.recorded", 22, {
        packet_id: "c",
        attempt: 1,
        outcome: "task-failed",
        files: files("attempts/c/1/attempt.json"),
      }),
      ev("packet.reviewed", 23, {
        packet_id: "c",
        attempt: 1,
        verdict: "changes-requested",
        files: files("reviews/c/1.json"),
      }),
      ev("packet.dispatched", 24, { packet_id: "c", attempt: 2, backend: "shell" }),
      ev("attempt.recorded", 40, {
        packet_id: "c",
        attempt: 2,
        outcome: "timeout",
        files: files("attempts/c/2/attempt.json"),
      }),
      ev("packet.reviewed", 41, {
        packet_id: "c",
        attempt: 2,
        verdict: "infra-failed",
        files: files("reviews/c/2.json"),
      }),
      ev("packet.failed", 42, { packet_id: "c", reason: "retries spent" }),
      ev("gate.opened", 43, { gate_id: "g", packets: ["b"], reason: "b writes" }),
      { kind: "note" as const, message: "ignored" },
    ])
      t.onProgress(p);
    t.end(outcome({}), T(50));
    await provider.forceFlush();

    const spans = exporter.getFinishedSpans();
    const named = (n: string) => spans.filter((s) => s.name === n);
    const one = (n: string, attr: string, v: unknown) =>
      spans.find((s) => s.name === n && s.attributes[attr] === v) as ReadableSpan;
    expect(spans.map((s) => s.name).sort()).toEqual(
      [
        "dwm.run",
        "dwm.packet",
        "dwm.packet",
        "dwm.attempt",
        "dwm.attempt",
        "dwm.attempt",
        "dwm.check",
        "dwm.check",
        "dwm.review",
        "dwm.review",
        "dwm.review",
        "dwm.integration",
        "dwm.gate.wait",
      ].sort(),
    );
    const run = named("dwm.run")[0] as ReadableSpan;
    const id = (s: ReadableSpan) => s.spanContext().spanId;
    const parent = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    // One trace, joined to the caller's.
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([PARENT_TRACE]));
    expect(parent(run)).toBe(PARENT_SPAN);
    expect(run.attributes).toMatchObject({
      "dwm.run.id": "demo-1",
      "dwm.plan.id": "demo",
      "dwm.run.status": "gate",
      "process.exit.code": 4,
      "dwm.run.attempts": 3,
    });
    expect(t.traceparent).toBe(`00-${PARENT_TRACE}-${id(run)}-01`);

    const pa = one("dwm.packet", "dwm.packet.id", "a");
    const pc = one("dwm.packet", "dwm.packet.id", "c");
    for (const p of [pa, pc]) expect(parent(p)).toBe(id(run));
    expect(pa.attributes).toMatchObject({ "dwm.packet.state": "completed", "dwm.packet.attempts": 1 });
    expect(pc.attributes).toMatchObject({ "dwm.packet.state": "failed", "dwm.packet.attempts": 2 });
    expect(pc.status.code).toBe(SpanStatusCode.ERROR);
    expect(pa.endTime).toEqual(one("dwm.integration", "dwm.packet.id", "a").endTime);

    const a1 = one("dwm.attempt", "dwm.packet.id", "a");
    expect(parent(a1)).toBe(id(pa));
    expect(a1.attributes).toEqual({
      "dwm.packet.id": "a",
      "dwm.attempt.number": 1,
      "dwm.backend": "claude",
      "gen_ai.provider.name": "anthropic",
      "dwm.attempt.outcome": "ok",
      "process.exit.code": 0,
      "gen_ai.usage.input_tokens": 1200,
      "gen_ai.usage.output_tokens": 40,
      "dwm.tokens.total": 1240,
      "dwm.cost.usd": 0.0123,
    });
    expect(a1.status.code).toBe(SpanStatusCode.UNSET);
    // From dispatch to the finish the evidence records.
    expect(new Date(a1.startTime[0] * 1000).toISOString()).toBe(T(1));
    expect(new Date(a1.endTime[0] * 1000).toISOString()).toBe(T(10));

    const [v1, v2] = named("dwm.check").sort((x, y) => x.startTime[0] - y.startTime[0]) as [
      ReadableSpan,
      ReadableSpan,
    ];
    for (const c of [v1, v2]) expect(parent(c)).toBe(id(a1));
    // Laid end to end before the attempt finished: 1 s then 2 s.
    expect(
      [v1.startTime[0], v1.endTime[0], v2.startTime[0], v2.endTime[0]].map((s) =>
        new Date(s * 1000).toISOString(),
      ),
    ).toEqual([T(7), T(8), T(8), T(10)]);
    expect(v1.attributes).toMatchObject({
      "dwm.check.id": "v1",
      "dwm.check.passed": true,
      "process.exit.code": 0,
    });
    expect(v2.attributes).toMatchObject({
      "dwm.check.passed": false,
      "process.exit.code": 1,
      "error.type": "check-failed",
    });
    expect(v2.status.code).toBe(SpanStatusCode.ERROR);

    const c1 = spans.find(
      (s) =>
        s.name === "dwm.attempt" &&
        s.attributes["dwm.packet.id"] === "c" &&
        s.attributes["dwm.attempt.number"] === 1,
    ) as ReadableSpan;
    const c2 = spans.find(
      (s) => s.name === "dwm.attempt" && s.attributes["dwm.attempt.number"] === 2,
    ) as ReadableSpan;
    expect(c1.attributes).toMatchObject({
      "dwm.backend": "shell",
      "error.type": "task-failed",
      "process.exit.code": 3,
    });
    expect(c1.attributes).not.toHaveProperty("gen_ai.provider.name");
    expect(c2.attributes).toMatchObject({ "error.type": "timeout", "dwm.attempt.outcome": "timeout" });
    expect(c2.attributes).not.toHaveProperty("process.exit.code");
    for (const c of [c1, c2]) expect(c.status.code).toBe(SpanStatusCode.ERROR);

    const reviews = named("dwm.review").map((r) => [
      r.attributes["dwm.packet.id"],
      r.attributes["dwm.review.verdict"],
      r.attributes["dwm.review.findings"],
      parent(r),
    ]);
    expect(reviews).toEqual(
      expect.arrayContaining([
        ["a", "approved", 0, id(pa)],
        ["c", "changes-requested", 2, id(pc)],
        ["c", "infra-failed", 0, id(pc)],
      ]),
    );
    const merged = one("dwm.integration", "dwm.packet.id", "a");
    expect(parent(merged)).toBe(id(pa));
    expect(merged.attributes).toMatchObject({
      "dwm.integration.result": "merged",
      "vcs.ref.head.revision": "c0ffee",
    });

    const gate = named("dwm.gate.wait")[0] as ReadableSpan;
    expect(parent(gate)).toBe(id(run));
    expect(gate.attributes).toEqual({
      "dwm.gate.id": "g",
      "dwm.gate.packets": ["b"],
      "dwm.gate.reason": "b writes",
      "dwm.gate.decision": "pending",
    });
    expect(new Date(gate.endTime[0] * 1000).toISOString()).toBe(T(50));
  });

  it("a decided gate ends at its decision; a packet still open at the end ends with the run; a failed run is an error", async () => {
    const t = createRunTracer({
      tracer: provider.getTracer("test"),
      runDir: dir.path,
      runId: "demo-1",
      startedAt: T(0),
    });
    t.onProgress(ev("gate.approved", 1, { gate_id: "early" }));
    t.onProgress(ev("gate.opened", 2, { gate_id: "g", packets: ["a"], reason: "r" }));
    t.onProgress(ev("gate.rejected", 5, { gate_id: "g" }));
    t.onProgress(ev("packet.dispatched", 6, { packet_id: "a", attempt: 1 }));
    // Garbage in an event is left out, never thrown.
    t.onProgress(ev("attempt.recorded", 7, { packet_id: 5, files: "nope" }));
    t.end(outcome({ status: "failed", exit_code: 1, detail: "a failed" }), T(9));
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const gate = spans.find((s) => s.name === "dwm.gate.wait") as ReadableSpan;
    expect(gate.attributes["dwm.gate.decision"]).toBe("rejected");
    expect(new Date(gate.endTime[0] * 1000).toISOString()).toBe(T(5));
    const run = spans.find((s) => s.name === "dwm.run") as ReadableSpan;
    expect(run.parentSpanContext).toBeUndefined();
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: "a failed" });
    expect(run.attributes["error.type"]).toBe("failed");
    const packet = spans.find((s) => s.name === "dwm.packet") as ReadableSpan;
    expect(new Date(packet.endTime[0] * 1000).toISOString()).toBe(T(9));
  });

  it("a malformed TRACEPARENT starts a trace of its own", () => {
    for (const bad of [
      undefined,
      "",
      "00-xyz",
      `00-${"0".repeat(32)}-${PARENT_SPAN}-01`,
      `01-${PARENT_TRACE}-${PARENT_SPAN}`,
    ]) {
      expect(parentContext(bad)).toBe(parentContext(undefined));
    }
  });
});

/** An exporter whose answers the test decides. */
class ScriptedExporter implements SpanExporter {
  exported: ReadableSpan[][] = [];
  constructor(private readonly answer: "ok" | "fail" | "hang") {}
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.exported.push(spans);
    if (this.answer === "ok") done({ code: 0 });
    else if (this.answer === "fail") done({ code: 1 });
  }
  async shutdown(): Promise<void> {}
}

async function spansOf(n: number): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  for (let i = 0; i < n; i++) provider.getTracer("t").startSpan(`s${i}`).end();
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

describe("the bounded span processor", () => {
  it("exports in batches and counts what went out", async () => {
    const exporter = new ScriptedExporter("ok");
    const p = new BoundedSpanProcessor(exporter, { maxQueueSize: 100, maxBatchSize: 4, delayMs: 10_000 });
    for (const s of await spansOf(10)) p.onEnd(s);
    expect(await p.shutdownWithin(1000)).toEqual({ exported: 10, dropped: 0 });
    expect(exporter.exported.map((b) => b.length)).toEqual([4, 4, 2]);
  });

  it("waits for an exporter that counts an export as pending until just after it answers (the OTLP exporter does)", async () => {
    let pending = 0;
    const sizes: number[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        if (pending > 0) return done({ code: 1 }); // "Concurrent export limit reached"
        pending++;
        sizes.push(spans.length);
        const sent = Promise.resolve().then(() => done({ code: 0 }));
        void sent.then(() => {
          pending--;
        });
      },
      shutdown: async () => {},
    };
    const p = new BoundedSpanProcessor(exporter, { maxQueueSize: 100, maxBatchSize: 4, delayMs: 10_000 });
    for (const s of await spansOf(10)) p.onEnd(s);
    expect(await p.shutdownWithin(1000)).toEqual({ exported: 10, dropped: 0 });
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("a full queue drops and counts; a failed export drops its batch without retrying", async () => {
    const exporter = new ScriptedExporter("fail");
    const p = new BoundedSpanProcessor(exporter, { maxQueueSize: 5, maxBatchSize: 100, delayMs: 10_000 });
    for (const s of await spansOf(8)) p.onEnd(s);
    expect(await p.shutdownWithin(1000)).toEqual({ exported: 0, dropped: 8 });
    expect(exporter.exported.map((b) => b.length)).toEqual([5]);
  });

  it("a collector that never answers costs at most the deadline; what waits is dropped and counted", async () => {
    const exporter = new ScriptedExporter("hang");
    const p = new BoundedSpanProcessor(exporter, { maxQueueSize: 10, maxBatchSize: 3, delayMs: 10_000 });
    for (const s of await spansOf(12)) p.onEnd(s);
    const t0 = performance.now();
    const counts = await p.shutdownWithin(200);
    expect(performance.now() - t0).toBeLessThan(5_000);
    // 3 on their way to the hanging collector, 7 queued, 2 over the queue's bound.
    expect(counts).toEqual({ exported: 0, dropped: 12 });
    // After shutdown nothing more is taken.
    p.onEnd((await spansOf(1))[0] as ReadableSpan);
    expect(p.counts.dropped).toBe(13);
  });
});

describe("OTEL_* configuration", () => {
  it("is off without an endpoint, and when the SDK or the traces exporter is turned off, or grpc is asked", () => {
    expect(otelConfig({})).toEqual({ off: "no OTEL_EXPORTER_OTLP_ENDPOINT" });
    const e = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(otelConfig({ ...e, OTEL_SDK_DISABLED: "true" })).toHaveProperty("off");
    expect(otelConfig({ ...e, OTEL_TRACES_EXPORTER: "none" })).toHaveProperty("off");
    expect(otelConfig({ ...e, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toHaveProperty("off");
    expect(otelConfig({ ...e, OTEL_TRACES_EXPORTER: "console,otlp" })).toHaveProperty("config");
  });

  it("reads the endpoint (traces one as is, the base one + /v1/traces), headers, timeout, service and queue", () => {
    const c = otelConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example:4318/",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20x,broken,a=1",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "a=2",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2500",
      OTEL_SERVICE_NAME: "ci-dwm",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=ci",
      OTEL_BSP_MAX_QUEUE_SIZE: "10",
      OTEL_BSP_SCHEDULE_DELAY: "nope",
    });
    expect(c).toEqual({
      config: {
        url: "https://otel.example:4318/v1/traces",
        headers: { authorization: "Bearer x", a: "2" },
        timeoutMs: 2500,
        serviceName: "ci-dwm",
        resourceAttributes: { "deployment.environment.name": "ci" },
        maxQueueSize: 10,
        maxBatchSize: 512,
        delayMs: 5000,
      },
    });
    const t = otelConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/custom",
    });
    expect("config" in t && t.config.url).toBe("http://b:4318/custom");
  });
});
