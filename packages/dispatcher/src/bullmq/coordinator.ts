import { type Clock, digest, digestBytes, type ProcessRunner, resolveInside } from "@dwm/core";
import { createGit, type GitPort } from "@dwm/executor";
import type {
  AttemptJob as AttemptJobArtifact,
  AttemptJobResult,
  AttemptRequest,
  BackendName,
  ErrorInfo,
  RateLimit,
} from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { Job, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { dispatcherErrors } from "../errors.js";
import { integrationBranch } from "../integration.js";
import {
  type AttemptJob,
  type AttemptQueue,
  type AttemptSettlement,
  errorInfo,
  type Lease,
} from "../queue.js";
import { connectRedis, parseQueueUrl } from "./connection.js";
import { collectEvidence, gitRemote } from "./evidence.js";
import { baseRef, DEFAULT_QUEUE_PREFIX, laneOf, laneQueueName, lanesFor, QUEUE_BACKENDS } from "./names.js";

/** BullMQ's failedReason for a job whose lock expired (worker lost) with maxStalledCount 0. */
const STALLED = /stalled/i;

export interface RedisQueueOptions {
  /** redis:// or rediss:// URL (AUTH from the URL). */
  url: string;
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
  adopt(jobIds: readonly string[]): Promise<Set<string>>;
  dispose(): Promise<void>;
}

interface Tracked {
  job_id: string;
  lane: string;
  request: AttemptRequest | null;
  packetDigest: string;
  /** adding: not in Redis yet; queued: waiting or active; done/failed: finished, not delivered. */
  state: "adding" | "queued" | "done" | "failed";
  result?: unknown;
  failedReason?: string;
  lease?: Lease;
}

type Outcome =
  | { status: "lost"; reason: string }
  | { status: "error"; error: ErrorInfo }
  | { status: "done"; result: AttemptJobResult };

interface Finished {
  t: Tracked;
  o: Outcome;
}

/** A worker's failure: the ErrorInfo JSON it threw, or BullMQ's own reason. */
function failureInfo(reason: string): ErrorInfo {
  try {
    const v = JSON.parse(reason) as ErrorInfo;
    if (typeof v.code === "string" && typeof v.message === "string") return v;
  } catch {
    // not ours
  }
  return { code: "ERR_DISPATCH_WORKER_CRASHED", message: reason };
}

/** The strictest limit (fewest starts per millisecond) among the lane's backends. */
function laneLimit(lane: string, limits: Partial<Record<BackendName, RateLimit>>): RateLimit | null {
  let best: RateLimit | null = null;
  for (const b of lane.split("+") as BackendName[]) {
    const l = limits[b];
    if (l && (best === null || l.max / l.duration_ms < best.max / best.duration_ms)) best = l;
  }
  return best;
}

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
  const url = parseQueueUrl(options.url);
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const git = options.git ?? createGit(options.processRunner, options.env);
  const log = options.log ?? (() => {});
  const pollMs = options.pollMs ?? 1000;
  const connection: Redis = connectRedis(url);
  const clients: Redis[] = [connection];
  const queues = new Map<string, Queue>();
  const events = new Map<string, QueueEvents>();
  const tracked = new Map<string, Tracked>();
  const settled: Finished[] = [];
  const takers: ((s: Finished | null) => void)[] = [];
  /** Lane of every job this queue handed to the run loop and may still have to remove. */
  const lanes = new Map<string, string>();
  let removals: Promise<void> = Promise.resolve();
  const limited = new Set<string>();
  let chain: Promise<unknown> = Promise.resolve();
  let pushedBase: string | null = null;
  let closed = false;
  let disposed = false;
  let sweeping: Promise<void> | null = null;
  let again = false;
  const timer = setInterval(() => wake(), pollMs);
  timer.unref();

  const queueOf = (lane: string): Queue => {
    let q = queues.get(lane);
    if (!q) {
      q = new Queue(laneQueueName(lane), { connection, prefix });
      q.on("error", () => {});
      queues.set(lane, q);
      const evConnection = connectRedis(url);
      clients.push(evConnection);
      const ev = new QueueEvents(laneQueueName(lane), { connection: evConnection, prefix });
      ev.on("error", () => {});
      const onFinish = ({ jobId }: { jobId: string }) => {
        if (tracked.has(jobId)) wake();
      };
      ev.on("completed", onFinish);
      ev.on("failed", onFinish);
      events.set(lane, ev);
    }
    return q;
  };

  const deliver = (s: Finished) => {
    const take = takers.shift();
    if (take) take(s);
    else settled.push(s);
  };

  const finishTakers = () => {
    if (takers.length > 0 && (closed || (tracked.size === 0 && settled.length === 0))) {
      for (const t of takers.splice(0)) t(null);
    }
  };

  function wake(): void {
    if (closed || disposed) return;
    if (sweeping) {
      again = true;
      return;
    }
    sweeping = sweep()
      .catch((e: unknown) => log(`queue check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        sweeping = null;
        if (again) {
          again = false;
          wake();
        }
      });
  }

  /** Look at every queued job: finished ones get their settlement (evidence checked first). */
  async function sweep(): Promise<void> {
    for (const t of [...tracked.values()]) {
      if (closed) return;
      if (t.state !== "queued") continue;
      // State first, then the job: a job read before it finished has no return value yet.
      const state = await queueOf(t.lane).getJobState(t.job_id);
      const job = state === "unknown" ? undefined : await Job.fromId(queueOf(t.lane), t.job_id);
      if (!job) {
        tracked.delete(t.job_id);
        settle(t, { status: "lost", reason: `the queue no longer holds job ${t.job_id} (Redis lost it)` });
        continue;
      }
      if (state === "completed") {
        t.state = "done";
        t.result = job.returnvalue;
      } else if (state === "failed") {
        t.state = "failed";
        t.failedReason = job.failedReason ?? "failed";
      } else if (state === "active") {
        const ttl = await connection.pttl(`${prefix}:${laneQueueName(t.lane)}:${t.job_id}:lock`);
        t.lease = {
          job_id: t.job_id,
          worker: job.processedBy ?? "worker",
          expires_at: new Date(Date.parse(options.clock.now()) + Math.max(0, ttl)).toISOString(),
        };
        continue;
      } else {
        continue;
      }
      await finish(t);
    }
  }

  async function finish(t: Tracked): Promise<void> {
    tracked.delete(t.job_id);
    if (t.request === null) return;
    if (t.state === "failed") {
      const reason = t.failedReason ?? "failed";
      if (STALLED.test(reason)) {
        settle(t, { status: "lost", reason: `its worker stopped renewing the job's lock (${reason})` });
      } else settle(t, { status: "error", error: failureInfo(reason) });
      return;
    }
    const v = validateSchema("attempt-job-result", t.result);
    if (!v.ok) {
      settle(t, {
        status: "error",
        error: {
          code: "ERR_QUEUE_JOB_INVALID",
          message: `the result of job ${t.job_id} does not match its schema`,
          details: { problems: v.problems.slice(0, 10) },
        },
      });
      return;
    }
    settle(t, { status: "done", result: t.result as AttemptJobResult });
  }

  function settle(t: Tracked, o: Outcome): void {
    if (t.request === null) return;
    deliver({ t, o });
  }

  /** The settlement the run loop gets; a finished job's evidence is collected right before it is recorded. */
  async function settlementOf({ t, o }: Finished): Promise<AttemptSettlement> {
    const request = t.request as AttemptRequest;
    lanes.set(t.job_id, t.lane);
    if (o.status === "lost") return { job_id: t.job_id, request, status: "lost", reason: o.reason };
    if (o.status === "error") return { job_id: t.job_id, request, status: "error", error: o.error };
    try {
      const attempt = await collectEvidence({
        git,
        processRunner: options.processRunner,
        env: options.env,
        repo: options.repo,
        remote: options.remote,
        attemptDir: resolveInside(
          options.runDir,
          `attempts/${request.packet.packet_id}/${request.attempt}`,
          "attempt directory",
        ),
        request,
        packetDigest: t.packetDigest,
        result: o.result,
      });
      log(`job ${t.job_id} finished on ${o.result.worker}`);
      return { job_id: t.job_id, request, status: "done", attempt };
    } catch (e) {
      return { job_id: t.job_id, request, status: "error", error: errorInfo(e) };
    }
  }

  /** A job whose settlement the run loop recorded leaves Redis (one removal at a time, in order). */
  function forget(jobId: string): void {
    const lane = lanes.get(jobId);
    lanes.delete(jobId);
    if (lane === undefined) return;
    removals = removals.then(async () => {
      try {
        const job = await Job.fromId(queueOf(lane), jobId);
        await job?.remove();
      } catch {
        // a job still locked by a late worker stays; it is ignored when it finishes
      }
    });
  }

  async function addJob(job: AttemptJob, data: AttemptJobArtifact): Promise<void> {
    const request = job.request;
    if (pushedBase !== request.base_commit) {
      await gitRemote(
        git,
        options.env,
        options.repo,
        [
          "push",
          "--quiet",
          "--no-verify",
          options.remote,
          `+${request.base_commit}:${baseRef(request.run_id)}`,
        ],
        `pushing base ${request.base_commit.slice(0, 12)} of ${job.job_id}`,
      );
      pushedBase = request.base_commit;
    }
    const q = queueOf(data.lane);
    if (!limited.has(data.lane)) {
      limited.add(data.lane);
      const l = laneLimit(data.lane, options.rateLimits ?? {});
      if (l) await q.setGlobalRateLimit(l.max, l.duration_ms);
      if ((await q.getWorkersCount()) === 0)
        log(
          `no worker serves lane ${data.lane} yet (dwm worker --backends ${data.lane.split("+").join(",")})`,
        );
    }
    await q.add("attempt", data, {
      jobId: job.job_id,
      attempts: 1,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  return {
    enqueue(job) {
      if (closed) throw dispatcherErrors.create("ERR_DISPATCH_QUEUE_CLOSED", "the attempt queue is closed");
      if (tracked.has(job.job_id)) {
        throw dispatcherErrors.create("ERR_DISPATCH_JOB_DUPLICATE", `job ${job.job_id} was enqueued before`, {
          details: { job_id: job.job_id },
        });
      }
      const request: AttemptRequest = { ...job.request, repo: options.remote };
      const data: AttemptJobArtifact = {
        kind: "attempt-job",
        schema_version: "1",
        job_id: job.job_id,
        lane: laneOf(request),
        remote: options.remote,
        packet_digest: digest(request.packet),
        prompt_digest: digestBytes(request.prompt),
        request,
      };
      const v = validateSchema("attempt-job", data);
      if (!v.ok) {
        throw dispatcherErrors.create(
          "ERR_QUEUE_JOB_INVALID",
          `job ${job.job_id} does not match the attempt-job schema`,
          {
            details: { problems: v.problems.slice(0, 10) },
          },
        );
      }
      const t: Tracked = {
        job_id: job.job_id,
        lane: data.lane,
        request: job.request,
        packetDigest: data.packet_digest,
        state: "adding",
      };
      tracked.set(job.job_id, t);
      // One push or add at a time, in dispatch order; BullMQ adds an existing job id once.
      chain = chain
        .then(() => addJob(job, data))
        .then(
          () => {
            if (t.state === "adding") t.state = "queued";
            wake();
          },
          (e: unknown) => {
            tracked.delete(t.job_id);
            settle(t, { status: "error", error: errorInfo(e) });
          },
        );
    },
    async next() {
      for (;;) {
        const s = settled.shift();
        if (s) return settlementOf(s);
        if (closed || tracked.size === 0) return null;
        const got = await new Promise<Finished | null>((resolve) => takers.push(resolve));
        if (got === null) return null;
        return settlementOf(got);
      }
    },
    get pending() {
      return closed ? 0 : tracked.size + settled.length;
    },
    ack(jobId) {
      forget(jobId);
    },
    leases() {
      return [...tracked.values()].flatMap((t) => (t.lease ? [{ ...t.lease }] : []));
    },
    close() {
      // Jobs stay in Redis: a later coordinator adopts them (the journal still says dispatched).
      closed = true;
      clearInterval(timer);
      finishTakers();
    },
    async adopt(jobIds) {
      const adopted = new Set<string>();
      const allLanes = lanesFor(QUEUE_BACKENDS);
      for (const id of jobIds) {
        for (const lane of allLanes) {
          // A job is a hash at <prefix>:<queue>:<id>: look before opening the lane's queue.
          if ((await connection.exists(`${prefix}:${laneQueueName(lane)}:${id}`)) === 0) continue;
          const job = await Job.fromId(queueOf(lane), id);
          if (!job) continue;
          const v = validateSchema("attempt-job", job.data);
          if (!v.ok) break;
          const data = job.data as AttemptJobArtifact;
          tracked.set(id, {
            job_id: id,
            lane,
            request: { ...data.request },
            packetDigest: data.packet_digest,
            state: "queued",
          });
          adopted.add(id);
          break;
        }
      }
      wake();
      return adopted;
    },
    async finish(runId) {
      // Every ref this run pushed to the remote: the evidence refs workers pushed (also those of
      // attempts whose worker died after pushing), the base ref, and the attempt branches. The
      // run's repository has all of it; a branch the user pushed there (integration) stays.
      const branches = `refs/heads/${integrationBranch(runId).replace(/\/integration$/, "")}/`;
      const evidence = `refs/dwm/evidence/${runId}/`;
      const listed = await gitRemote(
        git,
        options.env,
        options.repo,
        ["ls-remote", options.remote, "refs/dwm/*", "refs/heads/dwm/*"],
        "listing the run's refs on the remote",
      );
      const refs = listed
        .split("\n")
        .map((l) => l.split("\t")[1] ?? "")
        .filter(
          (r) =>
            r.startsWith(evidence) || r === baseRef(runId) || (r.startsWith(branches) && /\/[0-9]+$/.test(r)),
        );
      for (let i = 0; i < refs.length; i += 100) {
        await gitRemote(
          git,
          options.env,
          options.repo,
          ["push", "--quiet", "--no-verify", options.remote, "--delete", ...refs.slice(i, i + 100)],
          "removing the run's refs from the remote",
        );
      }
      if (refs.length > 0) log(`removed ${refs.length} ref(s) of run ${runId} from ${options.remote}`);
    },
    async dispose() {
      closed = true;
      disposed = true;
      clearInterval(timer);
      finishTakers();
      await chain.catch(() => undefined);
      await sweeping?.catch(() => undefined);
      // Jobs handed over but never acknowledged stay in Redis: the next coordinator adopts them.
      await removals;
      await Promise.allSettled([...events.values()].map((e) => e.close()));
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
      for (const c of clients) c.disconnect();
    },
  };
}
