import crypto from "node:crypto";
import os from "node:os";
import type { Clock } from "@dwm/core";
import type { BackendName, WorkerPresence } from "@dwm/schemas";
import type { Redis } from "ioredis";
import type { AttemptWorkerEvent } from "./worker-job.js";

/** The key a worker's heartbeat lives at: `<prefix>:worker:<random id>` (one per process). */
export function heartbeatKey(prefix: string, id: string): string {
  return `${prefix}:worker:${id}`;
}

/** What a worker says about itself in its heartbeat (a WorkerPresence without the registry's part). */
export type Heartbeat = Omit<WorkerPresence, "registered_lanes">;

export interface HeartbeatOptions {
  redis: Redis;
  prefix: string;
  clock: Clock;
  name: string;
  backends: readonly BackendName[];
  concurrency: number;
  /** How often it is refreshed (default 5000 ms); it expires after three times that. */
  everyMs?: number;
  stats: { processed: number; failed: number };
}

/**
 * A worker's heartbeat in Redis for `dwm workers`: who it is (name, host, pid, backends,
 * concurrency), what it runs now and since when, refreshed every `everyMs` and at once when a job
 * starts or ends, expiring after three missed refreshes (a killed worker disappears). Removed when
 * the worker stops.
 */
export class WorkerHeartbeat {
  private readonly key: string;
  private readonly running = new Map<string, Heartbeat["running"][number]>();
  private readonly startedAt: string;
  private readonly everyMs: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: HeartbeatOptions) {
    this.key = heartbeatKey(o.prefix, crypto.randomBytes(8).toString("hex"));
    this.startedAt = o.clock.now();
    this.everyMs = o.everyMs ?? 5000;
  }

  /** Write the first heartbeat and keep refreshing it. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.everyMs);
    this.timer.unref();
  }

  /** Follow the worker's jobs: started ones are running until they finish or fail. */
  note(e: AttemptWorkerEvent): void {
    if (e.kind === "started")
      this.running.set(e.job_id, { job_id: e.job_id, lane: e.lane, started_at: this.o.clock.now() });
    else this.running.delete(e.job_id);
    void this.beat();
  }

  /** What the heartbeat says now. */
  now(): Heartbeat {
    return {
      name: this.o.name,
      host: os.hostname(),
      pid: process.pid,
      backends: [...this.o.backends].sort(),
      concurrency: this.o.concurrency,
      running: [...this.running.values()].sort((a, b) => a.job_id.localeCompare(b.job_id)),
      processed: this.o.stats.processed,
      failed: this.o.stats.failed,
      started_at: this.startedAt,
      heartbeat_at: this.o.clock.now(),
    };
  }

  /** Stop refreshing and remove the heartbeat. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    await this.o.redis.del(this.key).catch(() => undefined);
  }

  private beat(): Promise<unknown> {
    if (this.stopped) return this.writing;
    // One write at a time, in order; a failed write (Redis restarting) waits for the next beat.
    this.writing = this.writing
      .then(() => this.o.redis.set(this.key, JSON.stringify(this.now()), "PX", this.everyMs * 3))
      .catch(() => undefined);
    return this.writing;
  }
}
