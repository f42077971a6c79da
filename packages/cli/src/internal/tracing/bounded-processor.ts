import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace";

/** What became of the spans a processor was handed. */
export interface ExportCounts {
  exported: number;
  /** Left out: the queue was full, an export failed (collector down, timeout), or the run ended first. */
  dropped: number;
}

/**
 * A span processor that can never hold a run back: finished spans wait in a bounded queue and go
 * out in batches, one export at a time; when the queue is full a span is dropped and counted, and
 * a failed export (collector down, refused, too slow) drops its batch, counted too, without retry.
 * `shutdown` gives what is queued one last chance within a deadline, then drops the rest.
 */
export class BoundedSpanProcessor implements SpanProcessor {
  private readonly queue: ReadableSpan[] = [];
  private inFlight: Promise<void> | null = null;
  private inFlightSize = 0;
  /** Set when shutdown gave up waiting: a late answer changes no count. */
  private gaveUp = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly counts: ExportCounts = { exported: 0, dropped: 0 };

  constructor(
    private readonly exporter: SpanExporter,
    private readonly options: { maxQueueSize: number; maxBatchSize: number; delayMs: number },
  ) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || this.queue.length >= this.options.maxQueueSize) {
      this.counts.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.options.maxBatchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.delayMs).unref();
  }

  /** Send one batch unless one is on its way (the queue bounds what waits meanwhile). */
  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.inFlightSize = batch.length;
    this.inFlight = new Promise<void>((resolve) => {
      const settle = (ok: boolean) => {
        if (!this.gaveUp) this.counts[ok ? "exported" : "dropped"] += batch.length;
        resolve();
      };
      try {
        this.exporter.export(batch, (r) => settle(r.code === 0));
      } catch {
        settle(false);
      }
    }).then(() => {
      this.inFlight = null;
      this.inFlightSize = 0;
      // The exporter counts an export as pending until just after it answers: the next batch
      // waits a turn of the event loop, or an exporter with a concurrency limit would refuse it.
      if (this.queue.length > 0 && !this.closed) setImmediate(() => this.kick());
    });
  }

  async forceFlush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight) {
      if (!this.inFlight) this.kick();
      await this.inFlight;
    }
  }

  /** Flush within `deadlineMs`, then stop: what is still queued or on its way is counted as dropped. */
  async shutdownWithin(deadlineMs: number): Promise<ExportCounts> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), deadlineMs);
    });
    const flushed = await Promise.race([this.forceFlush().then(() => "done" as const), deadline]);
    clearTimeout(timer);
    this.closed = true;
    if (flushed === "late") {
      // The batch on its way may still arrive; it is not waited for, and counted as lost.
      this.gaveUp = true;
      this.counts.dropped += this.queue.length + this.inFlightSize;
      this.queue.length = 0;
    }
    void this.exporter.shutdown().catch(() => {});
    return { ...this.counts };
  }

  async shutdown(): Promise<void> {
    await this.shutdownWithin(0);
  }
}
