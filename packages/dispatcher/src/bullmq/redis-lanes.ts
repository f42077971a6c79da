import type { Clock } from "@dwm/core";
import type { GitPort } from "@dwm/executor";
import type { AttemptJob as AttemptJobArtifact, BackendName, RateLimit } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { Job, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { Lease } from "../queue.js";
import type { RunIdentity } from "../run-identity.js";
import { connectRedis, type QueueUrl } from "./connection.js";
import { gitRemote } from "./git-remote.js";
import { laneLimit } from "./job-rules.js";
import { baseRef, laneQueueName, lanesFor, QUEUE_BACKENDS } from "./names.js";

/** How many times a job removal is tried (about 15 s in all) before the job is left in Redis. */
const REMOVE_TRIES = 10;

export interface RedisLanesOptions {
  url: QueueUrl;
  /** The run and instance this coordinator works for (the base ref is theirs). */
  run: RunIdentity;
  prefix: string;
  git: GitPort;
  env: Readonly<Record<string, string | undefined>>;
  /** The coordinator's repository, and the remote bases are pushed to. */
  repo: string;
  remote: string;
  clock: Clock;
  rateLimits: Partial<Record<BackendName, RateLimit>>;
  log: (message: string) => void;
  /** Told when a job of any lane completes or fails (its BullMQ id). */
  onFinish: (jobId: string) => void;
}

/** Where a job stands in Redis. */
export type JobLook =
  | { kind: "gone" }
  | { kind: "completed"; result: unknown }
  | { kind: "failed"; reason: string }
  | { kind: "active"; lease: Lease }
  | { kind: "waiting" };

/**
 * The coordinator's connection to Redis: one BullMQ queue per lane (opened on first use, with
 * a listener for finished jobs), adding jobs (the base pushed to the remote first, the lane's
 * rate limit set once), reading a job's state and lock, finding and removing jobs.
 */
export class RedisLanes {
  private readonly connection: Redis;
  private readonly clients: Redis[];
  private readonly queues = new Map<string, Queue>();
  private readonly events = new Map<string, QueueEvents>();
  private readonly limited = new Set<string>();
  private pushedBase: string | null = null;

  constructor(private readonly o: RedisLanesOptions) {
    this.connection = connectRedis(o.url);
    this.clients = [this.connection];
  }

  /** A lane's queue, opened on first use. */
  queueOf(lane: string): Queue {
    let q = this.queues.get(lane);
    if (q) return q;
    q = new Queue(laneQueueName(lane), { connection: this.connection, prefix: this.o.prefix });
    q.on("error", () => {});
    this.queues.set(lane, q);
    const evConnection = connectRedis(this.o.url);
    this.clients.push(evConnection);
    const ev = new QueueEvents(laneQueueName(lane), { connection: evConnection, prefix: this.o.prefix });
    ev.on("error", () => {});
    const onFinish = ({ jobId }: { jobId: string }) => this.o.onFinish(jobId);
    ev.on("completed", onFinish);
    ev.on("failed", onFinish);
    this.events.set(lane, ev);
    return q;
  }

  /** Push the base (when it moved), prepare the lane on first use, then add the job. */
  async add(data: AttemptJobArtifact): Promise<void> {
    const request = data.request;
    if (this.pushedBase !== request.base_commit) {
      await gitRemote(
        this.o.git,
        this.o.env,
        this.o.repo,
        ["push", "--quiet", "--no-verify", this.o.remote, `+${request.base_commit}:${baseRef(this.o.run)}`],
        `pushing base ${request.base_commit.slice(0, 12)} of ${data.job_id}`,
      );
      this.pushedBase = request.base_commit;
    }
    const q = this.queueOf(data.lane);
    if (!this.limited.has(data.lane)) await this.prepareLane(q, data.lane);
    await q.add("attempt", data, {
      jobId: data.job_id,
      attempts: 1,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  /** A lane's first job: its rate limit set, and a log line when no worker serves it yet. */
  private async prepareLane(q: Queue, lane: string): Promise<void> {
    this.limited.add(lane);
    const l = laneLimit(lane, this.o.rateLimits);
    if (l) await q.setGlobalRateLimit(l.max, l.duration_ms);
    if ((await q.getWorkersCount()) === 0)
      this.o.log(`no worker serves lane ${lane} yet (dwm worker --backends ${lane.split("+").join(",")})`);
  }

  /**
   * Where a job stands now: gone (Redis lost it), finished (its result or failure), running
   * (its worker's claim, from the lock's time to live), or waiting. The state is read before
   * the job: a job read before it finished has no return value yet.
   */
  async look(lane: string, jobId: string): Promise<JobLook> {
    const q = this.queueOf(lane);
    const state = await q.getJobState(jobId);
    const job = state === "unknown" ? undefined : await Job.fromId(q, jobId);
    if (!job) return { kind: "gone" };
    if (state === "completed") return { kind: "completed", result: job.returnvalue };
    if (state === "failed") return { kind: "failed", reason: job.failedReason ?? "failed" };
    if (state !== "active") return { kind: "waiting" };
    const ttl = await this.connection.pttl(`${this.o.prefix}:${laneQueueName(lane)}:${jobId}:lock`);
    const expires_at = new Date(Date.parse(this.o.clock.now()) + Math.max(0, ttl)).toISOString();
    return { kind: "active", lease: { job_id: jobId, worker: job.processedBy ?? "worker", expires_at } };
  }

  /**
   * A job an earlier coordinator enqueued, in whichever lane holds it (null: none). `data` is null
   * when what the job holds does not match the attempt-job schema (not a job of ours).
   */
  async find(jobId: string): Promise<{ lane: string; data: AttemptJobArtifact | null } | null> {
    for (const lane of lanesFor(QUEUE_BACKENDS)) {
      // A job is a hash at <prefix>:<queue>:<id>: look before opening the lane's queue.
      if ((await this.connection.exists(`${this.o.prefix}:${laneQueueName(lane)}:${jobId}`)) === 0) continue;
      const job = await Job.fromId(this.queueOf(lane), jobId);
      if (!job) continue;
      const ok = validateSchema("attempt-job", job.data).ok;
      return { lane, data: ok ? (job.data as AttemptJobArtifact) : null };
    }
    return null;
  }

  /**
   * Remove the finished jobs (completed or failed) whose ids start with `idPrefix`, but those in
   * `keep`: jobs a coordinator recorded but had not removed yet when it was killed. Returns how many.
   */
  async removeFinished(idPrefix: string, keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const lane of lanesFor(QUEUE_BACKENDS)) {
      const base = `${this.o.prefix}:${laneQueueName(lane)}`;
      for (const set of ["completed", "failed"]) {
        const ids = await this.connection.zrange(`${base}:${set}`, "0", "-1");
        for (const id of ids.filter((i) => i.startsWith(idPrefix) && !keep.has(i))) {
          await this.remove(lane, id, 1);
          removed++;
        }
      }
    }
    return removed;
  }

  /**
   * Remove a job. A removal that fails (Redis restarting, the job still locked by a late worker) is
   * tried again for a while: a recorded job left in Redis would never be removed by anyone else.
   */
  async remove(lane: string, jobId: string, tries = REMOVE_TRIES): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        const job = await Job.fromId(this.queueOf(lane), jobId);
        await job?.remove();
        return;
      } catch {
        // Redis is away or the job is locked: once more after a pause, then give up (it stays).
        if (i >= tries) return;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** i)));
      }
    }
  }

  /** Close every queue and listener, and disconnect. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.events.values()].map((e) => e.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    for (const c of this.clients) c.disconnect();
  }
}
