import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Clock, digest, digestBytes, type ProcessRunner } from "@dwm/core";
import { createGit, type GitPort, runAttempt } from "@dwm/executor";
import type { AttemptJob, AttemptJobResult, BackendName } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { dispatcherErrors } from "../errors.js";
import { errorInfo } from "../queue.js";
import { connectRedis, parseQueueUrl } from "./connection.js";
import { gitRemote, publishEvidence } from "./evidence.js";
import { backendsOf, DEFAULT_QUEUE_PREFIX, laneOf, laneQueueName, lanesFor } from "./names.js";

export interface AttemptWorkerOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** The backends this worker runs; it takes jobs only from lanes these cover. */
  backends: readonly BackendName[];
  /** Attempts at once in this process (across its lanes). */
  concurrency: number;
  /** Shown in the job (processedBy) and the result; default host:pid. */
  name?: string;
  /** Local clones of the remotes live here (one per remote); default a fresh temporary folder. */
  cacheDir?: string;
  /** Where attempt worktrees are made (default os.tmpdir()). */
  worktreeRoot?: string;
  processRunner: ProcessRunner;
  /** The worker's environment: attempts get only allow-listed names from it (as with dwm run). */
  env: Readonly<Record<string, string | undefined>>;
  clock: Clock;
  git?: GitPort;
  prefix?: string;
  /** BullMQ lock: renewed every half of it while an attempt runs; a dead worker's job is lost after it (default 30 s). */
  lockMs?: number;
  /** How often this worker looks for other workers' expired locks (default lockMs). */
  stalledIntervalMs?: number;
  onEvent?: (e: AttemptWorkerEvent) => void;
}

export type AttemptWorkerEvent =
  | { kind: "started"; job_id: string; lane: string }
  | { kind: "finished"; job_id: string; outcome: string; duration_ms: number }
  | { kind: "failed"; job_id: string; code: string; message: string };

export interface AttemptWorker {
  readonly name: string;
  readonly lanes: readonly string[];
  /** Jobs finished with a result, and jobs failed, since start. */
  readonly stats: { processed: number; failed: number };
  /** Stop taking jobs; wait for running attempts (force: kill them; their jobs are lost and run again elsewhere). */
  close(force?: boolean): Promise<void>;
}

/** A counting semaphore: the process-wide concurrency across lanes. */
function semaphore(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const w = waiting.shift();
      if (w) w();
      else free++;
    },
  };
}

/**
 * `dwm worker`: take attempt jobs from the lanes this worker's backends cover, and for each
 * fetch the base commit from the run's remote into a local clone, run the attempt with
 * @dwm/executor in a fresh worktree (evidence in a temporary folder), push the attempt branch
 * and the evidence commit to the remote, and return the attempt with its digests. It never
 * touches a run store. BullMQ renews the job's lock while the attempt runs; maxStalledCount 0
 * makes a job whose worker died fail as stalled, which the coordinator records as abandoned.
 */
export async function startAttemptWorker(options: AttemptWorkerOptions): Promise<AttemptWorker> {
  const url = parseQueueUrl(options.url);
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const name = options.name ?? `${os.hostname()}:${process.pid}`;
  const allowed = new Set(options.backends);
  if (allowed.size === 0) {
    throw dispatcherErrors.create("ERR_QUEUE_BACKEND_NOT_ALLOWED", "a worker needs at least one backend");
  }
  const lanes = lanesFor([...allowed]);
  const lockMs = options.lockMs ?? 30_000;
  const ownCache = options.cacheDir === undefined;
  const cacheDir = options.cacheDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "dwm-worker-"));
  fs.mkdirSync(cacheDir, { recursive: true });
  const stop = new AbortController();
  // Attempts' processes get the stop signal (force close); git commands finish.
  const runner: ProcessRunner = {
    run: (req) =>
      options.processRunner.run(req.argv[0] === "git" || req.signal ? req : { ...req, signal: stop.signal }),
  };
  const git = options.git ?? createGit(runner, options.env);
  const gate = semaphore(options.concurrency);
  const stats = { processed: 0, failed: 0 };
  const emit = options.onEvent ?? (() => {});
  const clones = new Map<string, Promise<string>>();

  const cloneOf = (remote: string): Promise<string> => {
    let p = clones.get(remote);
    if (!p) {
      const dir = path.join(cacheDir, digest(remote).slice(7, 23));
      p = (async () => {
        if (!fs.existsSync(path.join(dir, ".git"))) {
          fs.mkdirSync(dir, { recursive: true });
          const r = await git.run(dir, ["init", "--quiet"]);
          if (r.exitCode !== 0)
            throw dispatcherErrors.create("ERR_QUEUE_REMOTE_FAILED", `git init ${dir}: ${r.stderr.trim()}`);
        }
        return dir;
      })();
      p.catch(() => clones.delete(remote));
      clones.set(remote, p);
    }
    return p;
  };

  /** Every failure reaches the coordinator as ErrorInfo JSON in BullMQ's failedReason. */
  const processJob = async (job: Job): Promise<AttemptJobResult> => {
    try {
      return await runJob(job);
    } catch (e) {
      stats.failed++;
      const info = errorInfo(e);
      emit({ kind: "failed", job_id: String(job.id), code: info.code, message: info.message });
      throw new Error(JSON.stringify(info));
    }
  };

  const runJob = async (job: Job): Promise<AttemptJobResult> => {
    const v = validateSchema("attempt-job", job.data);
    if (!v.ok) {
      throw dispatcherErrors.create(
        "ERR_QUEUE_JOB_INVALID",
        `job ${job.id} does not match the attempt-job schema`,
        {
          details: { problems: v.problems.slice(0, 10) },
        },
      );
    }
    const data = job.data as AttemptJob;
    const request = data.request;
    if (
      data.job_id !== job.id ||
      digest(request.packet) !== data.packet_digest ||
      digestBytes(request.prompt) !== data.prompt_digest
    ) {
      throw dispatcherErrors.create(
        "ERR_QUEUE_JOB_INVALID",
        `job ${job.id}: its id or digests do not match its content`,
      );
    }
    const needs = backendsOf(request);
    const refused = needs.filter((b) => !allowed.has(b));
    if (refused.length > 0 || laneOf(request) !== data.lane) {
      throw dispatcherErrors.create(
        "ERR_QUEUE_BACKEND_NOT_ALLOWED",
        `job ${job.id} needs ${needs.join(", ")}; this worker runs only ${[...allowed].join(", ")}`,
        { details: { job_id: data.job_id, needs, allowed: [...allowed] } },
      );
    }
    await gate.acquire();
    const t0 = options.clock.monotonicMs();
    emit({ kind: "started", job_id: data.job_id, lane: data.lane });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-job-"));
    try {
      const repo = await cloneOf(data.remote);
      // The base is fetched once per clone (the attempts of a run share few bases).
      await git.admin(repo, async () => {
        const have = await git.run(repo, ["cat-file", "-e", `${request.base_commit}^{commit}`]);
        if (have.exitCode === 0) return;
        await gitRemote(
          git,
          options.env,
          repo,
          [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            data.remote,
            `+${request.base_commit}:refs/dwm/bases/${request.base_commit}`,
          ],
          `fetching base ${request.base_commit.slice(0, 12)} of job ${data.job_id}`,
        );
      });
      const attemptDir = path.join(tmp, "attempt");
      const attempt = await runAttempt(
        { ...request, repo },
        {
          processRunner: runner,
          clock: options.clock,
          attemptDir,
          env: options.env,
          git,
          ...(options.worktreeRoot ? { worktreeRoot: options.worktreeRoot } : {}),
        },
      );
      const pushed = await publishEvidence({
        git,
        env: options.env,
        repo,
        remote: data.remote,
        attemptDir,
        attempt,
      });
      const result: AttemptJobResult = {
        kind: "attempt-job-result",
        schema_version: "1",
        job_id: data.job_id,
        worker: name,
        attempt_digest: digest(attempt),
        attempt,
        ...pushed,
      };
      const rv = validateSchema("attempt-job-result", result);
      if (!rv.ok) {
        throw dispatcherErrors.create(
          "ERR_QUEUE_JOB_INVALID",
          `the result of job ${data.job_id} does not match its schema`,
          {
            details: { problems: rv.problems.slice(0, 10) },
          },
        );
      }
      stats.processed++;
      emit({
        kind: "finished",
        job_id: data.job_id,
        outcome: attempt.outcome,
        duration_ms: Math.round(options.clock.monotonicMs() - t0),
      });
      return result;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      gate.release();
    }
  };

  const clients = lanes.map(() => connectRedis(url));
  const workers = lanes.map((lane, i) => {
    const w = new Worker(laneQueueName(lane), processJob, {
      connection: clients[i] as Redis,
      prefix,
      name,
      concurrency: options.concurrency,
      lockDuration: lockMs,
      stalledInterval: options.stalledIntervalMs ?? lockMs,
      maxStalledCount: 0,
      autorun: true,
    });
    w.on("error", () => {});
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  return {
    name,
    lanes,
    stats,
    async close(force = false) {
      if (force) stop.abort();
      await Promise.allSettled(workers.map((w) => w.close(force)));
      for (const c of clients) c.disconnect();
      if (ownCache) fs.rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}
