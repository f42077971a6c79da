import { type Clock, type ProcessRunner, resolveInside } from "@dwm/core";
import { createGit, type GitPort } from "@dwm/executor";
import type {
  AttemptJobResult,
  AttemptRequest,
  BackendName,
  ErrorInfo,
  QueueOrigin,
  RateLimit,
} from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import {
  type Adoption,
  type AttemptJob,
  type AttemptQueue,
  type AttemptSettlement,
  attemptJobId,
  errorInfo,
  type InFlightAttempt,
  type Lease,
} from "../queue.js";
import type { RunIdentity } from "../run-identity.js";
import { type CheckedEvidence, checkEvidence, writeEvidence } from "./collect-evidence.js";
import { parseQueueUrl, type QueueTlsFiles } from "./connection.js";
import { removeRunRefs } from "./git-remote.js";
import { adoptionProblems, attemptJobData, finishedOutcome, type JobOutcome } from "./job-rules.js";
import { DEFAULT_QUEUE_PREFIX, jobIdOf } from "./names.js";
import { RedisLanes } from "./redis-lanes.js";
import { semaphore } from "./worker-job.js";

/** How long closing waits for the removal of jobs recorded before (Redis may be away). */
const SWEEP_LIMIT_MS = 5000;

export interface RedisQueueOptions {
  /** redis:// or rediss:// URL (AUTH from the URL). */
  url: string;
  /** rediss:// only: PEM files of a CA to trust and a client certificate and key. */
  tls?: QueueTlsFiles;
  /** The run and its instance (ports.queue's third argument): job ids and remote refs are namespaced by both. */
  run: RunIdentity;
  /** The run's git remote: a URL or a bare repository path every worker can reach. */
  remote: string;
  /** The coordinator's repository (the run's). */
  repo: string;
  /** The run directory: evidence is written under attempts/ once it verified. */
  runDir: string;
  processRunner: ProcessRunner;
  env: Readonly<Record<string, string | undefined>>;
  clock: Clock;
  git?: GitPort;
  /** BullMQ key prefix (default "dwm"): coordinators and workers of one fleet share it. */
  prefix?: string;
  /** Per-backend limits for paid APIs (from the bindings' rate_limit): set on each lane's queue. */
  rateLimits?: Partial<Record<BackendName, RateLimit>>;
  /** How often in-flight jobs are looked at even without a queue event (default 1000 ms). */
  pollMs?: number;
  /** Log lines (late or duplicate results, lanes without workers). */
  log?: (message: string) => void;
}

/** The BullMQ implementation of the AttemptQueue port, coordinator side. */
export interface RedisAttemptQueue extends AttemptQueue {
  adopt(attempts: readonly InFlightAttempt[]): Promise<Adoption>;
  dispose(): Promise<void>;
}

interface Tracked {
  /** The run loop's id of the job (`<run>/<packet>/<n>`). */
  job_id: string;
  /** Its BullMQ id (`<run>/<instance>/<packet>/<n>`). */
  rid: string;
  lane: string;
  request: AttemptRequest | null;
  packetDigest: string;
  /** digest of the request as the job carries it: a result is accepted for this request only. */
  requestDigest: string;
  /** adding: not in Redis yet; queued: waiting or active. */
  state: "adding" | "queued";
  lease?: Lease;
}

interface Finished {
  t: Tracked;
  o: JobOutcome;
  /** A done job's evidence, fetched and checked as soon as the job finished (written when the run loop takes it). */
  checked?: Promise<CheckedEvidence>;
}

/** Results whose evidence is fetched and checked at once (each is a few git processes). */
const CHECKS_AT_ONCE = 3;

/**
 * The coordinator's side of scale-out: attempts go into BullMQ queues on Redis (one per lane,
 * i.e. set of backends), `dwm worker` processes take them. The coordinator pushes each attempt's
 * base commit to the remote before it enqueues, and when a job finishes it fetches the pushed
 * evidence, checks every digest and writes it into the run store before next() hands the
 * settlement to the run loop. A job whose worker died (lock expired, BullMQ's stalled check)
 * settles as `lost`. Jobs stay in Redis until the run loop acknowledges their settlement (it
 * recorded it), so a coordinator that crashes before that finds them again with adopt().
 */
export function createRedisAttemptQueue(options: RedisQueueOptions): RedisAttemptQueue {
  return new RedisCoordinatorQueue(options);
}

class RedisCoordinatorQueue implements RedisAttemptQueue {
  private readonly git: GitPort;
  private readonly log: (message: string) => void;
  private readonly redis: RedisLanes;
  private readonly tracked = new Map<string, Tracked>();
  /** Where attempts go (journaled with each dispatch). */
  readonly origin: QueueOrigin;
  private readonly settled: Finished[] = [];
  private readonly takers: ((s: Finished | null) => void)[] = [];
  /** Lane and BullMQ id of every job this queue handed to the run loop and may still have to remove. */
  private readonly handed = new Map<string, { lane: string; rid: string }>();
  private removals: Promise<void> = Promise.resolve();
  private readonly checks = semaphore(CHECKS_AT_ONCE);
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private disposed = false;
  private sweeping: Promise<void> | null = null;
  private again = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: RedisQueueOptions) {
    const url = parseQueueUrl(options.url, options.tls);
    const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.origin = { url: url.redacted, prefix };
    this.git = options.git ?? createGit(options.processRunner, options.env);
    this.log = options.log ?? (() => {});
    const mine = `${options.run.runId}/${options.run.instance}/`;
    this.redis = new RedisLanes({
      url,
      run: options.run,
      prefix,
      git: this.git,
      env: options.env,
      repo: options.repo,
      remote: options.remote,
      clock: options.clock,
      rateLimits: options.rateLimits ?? {},
      log: this.log,
      // Other coordinators' jobs finish in the same lanes: only this instance's wake the sweep.
      onFinish: (jobId) => {
        if (jobId.startsWith(mine)) this.wake();
      },
    });
    this.timer = setInterval(() => this.wake(), options.pollMs ?? 1000);
    this.timer.unref();
  }

  enqueue(job: AttemptJob): void {
    if (this.closed)
      throw dispatcherErrors.create("ERR_DISPATCH_QUEUE_CLOSED", "the attempt queue is closed");
    if (this.tracked.has(job.job_id)) {
      throw dispatcherErrors.create("ERR_DISPATCH_JOB_DUPLICATE", `job ${job.job_id} was enqueued before`, {
        details: { job_id: job.job_id },
      });
    }
    const data = attemptJobData(job, this.options.remote, this.options.run);
    const t: Tracked = {
      job_id: job.job_id,
      rid: data.job_id,
      lane: data.lane,
      request: job.request,
      packetDigest: data.packet_digest,
      requestDigest: data.request_digest,
      state: "adding",
    };
    this.tracked.set(job.job_id, t);
    // One push or add at a time, in dispatch order; BullMQ adds an existing job id once.
    this.chain = this.chain
      .then(() => this.redis.add(data))
      .then(
        () => {
          if (t.state === "adding") t.state = "queued";
          this.wake();
        },
        (e: unknown) => {
          this.tracked.delete(t.job_id);
          this.settle(t, { status: "error", error: errorInfo(e) });
        },
      );
  }

  async next(): Promise<AttemptSettlement | null> {
    const s = this.settled.shift();
    if (s) return this.settlementOf(s);
    if (this.closed || this.tracked.size === 0) return null;
    const got = await new Promise<Finished | null>((resolve) => this.takers.push(resolve));
    return got === null ? null : this.settlementOf(got);
  }

  get pending(): number {
    return this.closed ? 0 : this.tracked.size + this.settled.length;
  }

  /** The run loop recorded the job's settlement: it leaves Redis (one removal at a time, in order). */
  ack(jobId: string): void {
    const h = this.handed.get(jobId);
    this.handed.delete(jobId);
    if (h === undefined) return;
    this.removals = this.removals.then(() => this.redis.remove(h.lane, h.rid));
  }

  leases(): Lease[] {
    return [...this.tracked.values()].flatMap((t) => (t.lease ? [{ ...t.lease }] : []));
  }

  close(): void {
    // Jobs stay in Redis: a later coordinator adopts them (the journal still says dispatched).
    this.closed = true;
    clearInterval(this.timer);
    this.finishTakers();
  }

  async adopt(attempts: readonly InFlightAttempt[]): Promise<Adoption> {
    const adopted = new Set<string>();
    const refused = new Map<string, ErrorInfo>();
    for (const want of attempts) {
      const rid = this.redisId(want);
      const found = rid === null ? null : await this.redis.find(rid);
      if (found === null || rid === null) continue;
      const { lane, data } = found;
      const problems =
        data === null
          ? ["it does not match the attempt-job schema"]
          : adoptionProblems({ lane, data }, want, this.options.run, this.options.remote);
      if (data === null || problems.length > 0) {
        refused.set(want.job_id, await this.refuse(lane, rid, problems));
        continue;
      }
      // The job names the remote as its repository and this instance's branch: the loop gets its own request back.
      const request: AttemptRequest = { ...data.request, repo: this.options.repo };
      delete request.branch;
      this.tracked.set(want.job_id, {
        job_id: want.job_id,
        rid,
        lane,
        request,
        packetDigest: data.packet_digest,
        requestDigest: data.request_digest,
        state: "queued",
      });
      adopted.add(want.job_id);
    }
    this.wake();
    return { adopted, refused };
  }

  /**
   * A job under an attempt's id that is not the journal's attempt: never tracked, so its result
   * is never recorded. It leaves Redis now; one a worker holds stays until it finished, and the
   * sweep at close removes it then (it is this instance's and nobody tracks it).
   */
  private async refuse(lane: string, rid: string, problems: string[]): Promise<ErrorInfo> {
    const e = dispatcherErrors.create(
      "ERR_QUEUE_JOB_FOREIGN",
      `job ${rid} in the queue is not the attempt the journal dispatched: ${problems.join("; ")}`,
      { details: { job_id: rid, problems } },
    );
    this.log(`${e.code}: ${e.message}`);
    await this.redis.remove(lane, rid, 1);
    return errorInfo(e);
  }

  async finish(runId: string): Promise<void> {
    const { env, repo, remote, run } = this.options;
    if (runId !== run.runId) return;
    const removed = await removeRunRefs(this.git, env, repo, remote, run);
    if (removed > 0) this.log(`removed ${removed} ref(s) of run ${runId} from ${remote}`);
  }

  async dispose(): Promise<void> {
    this.closed = true;
    this.disposed = true;
    clearInterval(this.timer);
    this.finishTakers();
    await this.chain.catch(() => undefined);
    await this.sweeping?.catch(() => undefined);
    // Jobs handed over but never acknowledged stay in Redis: the next coordinator adopts them.
    await this.removals;
    await this.removeRecordedBefore();
    await this.redis.close();
  }

  /**
   * Remove the finished jobs of this run instance that this coordinator neither tracks, holds
   * settled for the run loop, nor handed over unacknowledged: recorded (or abandoned) by an earlier coordinator that was killed before it
   * removed them. Nobody else would remove them.
   */
  private async removeRecordedBefore(): Promise<void> {
    const { runId, instance } = this.options.run;
    const keep = new Set(
      [...this.tracked.values(), ...this.settled.map((s) => s.t), ...this.handed.values()].map((t) => t.rid),
    );
    let timer: NodeJS.Timeout | undefined;
    // Redis away (a command would wait for it): give up after a while, the next coordinator tries again.
    const giveUp = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(0), SWEEP_LIMIT_MS);
    });
    try {
      const removed = await Promise.race([this.redis.removeFinished(`${runId}/${instance}/`, keep), giveUp]);
      if (removed > 0) this.log(`removed ${removed} finished job(s) of run ${runId} recorded before`);
    } catch {
      // Redis refused: the next coordinator of this run tries again.
    } finally {
      clearTimeout(timer);
    }
  }

  private deliver(s: Finished): void {
    const take = this.takers.shift();
    if (take) take(s);
    else this.settled.push(s);
  }

  private finishTakers(): void {
    if (this.takers.length > 0 && (this.closed || (this.tracked.size === 0 && this.settled.length === 0))) {
      for (const t of this.takers.splice(0)) t(null);
    }
  }

  /** Sweep now, or once more right after the sweep under way. */
  private wake(): void {
    if (this.closed || this.disposed) return;
    if (this.sweeping) {
      this.again = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch((e: unknown) => this.log(`queue check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.sweeping = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Look at every queued job: finished ones get their settlement (evidence checked first). */
  private async sweep(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      if (this.closed) return;
      if (t.state !== "queued") continue;
      const outcome = await this.lookAt(t);
      if (outcome === null) continue;
      this.tracked.delete(t.job_id);
      this.settle(t, outcome);
    }
  }

  /** Read a queued job from Redis: a finished job's outcome, null while it waits or runs. */
  private async lookAt(t: Tracked): Promise<JobOutcome | null> {
    const now = await this.redis.look(t.lane, t.rid);
    if (now.kind === "gone") {
      this.tracked.delete(t.job_id);
      this.settle(t, { status: "lost", reason: `the queue no longer holds job ${t.rid} (Redis lost it)` });
      return null;
    }
    if (now.kind === "active") t.lease = { ...now.lease, job_id: t.job_id };
    if (now.kind === "completed") return finishedOutcome(t.rid, { state: "done", result: now.result });
    if (now.kind === "failed") return finishedOutcome(t.rid, { state: "failed", failedReason: now.reason });
    return null;
  }

  /** The BullMQ id of an attempt in flight (`<run>/<instance>/<packet>/<n>`); null: its job id is not the run loop's for it. */
  private redisId(want: InFlightAttempt): string | null {
    const { run } = this.options;
    if (want.job_id !== attemptJobId(run.runId, want.packet_id, want.attempt)) return null;
    return jobIdOf(run, want.packet_id, want.attempt);
  }

  private settle(t: Tracked, o: JobOutcome): void {
    if (t.request === null) return;
    this.deliver({ t, o, ...(o.status === "done" ? { checked: this.check(t, o.result) } : {}) });
  }

  /** Fetch and check a finished job's evidence now, a few at a time, while the run loop records others. */
  private check(t: Tracked, result: AttemptJobResult): Promise<CheckedEvidence> {
    const { processRunner, env, repo, remote, run } = this.options;
    const p = (async () => {
      await this.checks.acquire();
      try {
        return await checkEvidence({
          git: this.git,
          processRunner,
          env,
          repo,
          remote,
          request: t.request as AttemptRequest,
          run,
          jobId: t.rid,
          packetDigest: t.packetDigest,
          requestDigest: t.requestDigest,
          result,
        });
      } finally {
        this.checks.release();
      }
    })();
    // Taken by settlementOf; a settlement never taken (the coordinator closed) must not reject unseen.
    p.catch(() => undefined);
    return p;
  }

  /** The settlement the run loop gets; a finished job's checked evidence is written right before it is recorded. */
  private async settlementOf({ t, o, checked }: Finished): Promise<AttemptSettlement> {
    const request = t.request as AttemptRequest;
    this.handed.set(t.job_id, { lane: t.lane, rid: t.rid });
    if (o.status === "lost") return { job_id: t.job_id, request, status: "lost", reason: o.reason };
    if (o.status === "error") return { job_id: t.job_id, request, status: "error", error: o.error };
    const { repo, runDir } = this.options;
    try {
      const attempt = await writeEvidence(
        {
          git: this.git,
          repo,
          attemptDir: resolveInside(
            runDir,
            `attempts/${request.packet.packet_id}/${request.attempt}`,
            "attempt directory",
          ),
          result: o.result,
        },
        await (checked as Promise<CheckedEvidence>),
      );
      this.log(`job ${t.rid} finished on ${o.result.worker}`);
      return { job_id: t.job_id, request, status: "done", attempt };
    } catch (e) {
      return { job_id: t.job_id, request, status: "error", error: errorInfo(e) };
    }
  }
}
