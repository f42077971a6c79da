import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Clock, ProcessRunner, Sandbox } from "@dwm/core";
import { createGit, type GitPort, removeDeadAttemptSpaces } from "@dwm/executor";
import type { BackendName } from "@dwm/schemas";
import { type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { dispatcherErrors } from "../errors.js";
import { connectRedis, parseQueueUrl, type QueueTlsFiles } from "./connection.js";
import { WorkerHeartbeat } from "./heartbeat.js";
import { DEFAULT_QUEUE_PREFIX, laneQueueName, lanesFor } from "./names.js";
import { type AttemptWorkerEvent, JobRunner } from "./worker-job.js";

export interface AttemptWorkerOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** rediss:// only: PEM files of a CA to trust and a client certificate and key. */
  tls?: QueueTlsFiles;
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
  /** The OS sandbox every worker and check runs in; default none, recorded in each attempt. */
  sandbox?: Sandbox;
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
  /** How often the worker refreshes its heartbeat for `dwm workers` (default 5000 ms; it expires after three times that). */
  heartbeatMs?: number;
}

export type { AttemptWorkerEvent } from "./worker-job.js";

export interface AttemptWorker {
  readonly name: string;
  readonly lanes: readonly string[];
  /** Jobs finished with a result, and jobs failed, since start. */
  readonly stats: { processed: number; failed: number };
  /** Stop taking jobs; wait for running attempts (force: kill them; their jobs are lost and run again elsewhere). */
  close(force?: boolean): Promise<void>;
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
  const url = parseQueueUrl(options.url, options.tls);
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
  // Attempt folders (checkouts, prompts) a worker or runner of this host left when it died.
  removeDeadAttemptSpaces(options.worktreeRoot);
  const stop = new AbortController();
  // Attempts' processes get the stop signal (force close); git commands finish.
  const processRunner: ProcessRunner = {
    run: (req) =>
      options.processRunner.run(req.argv[0] === "git" || req.signal ? req : { ...req, signal: stop.signal }),
  };
  const stats = { processed: 0, failed: 0 };
  const beatClient = connectRedis(url);
  const heartbeat = new WorkerHeartbeat({
    redis: beatClient,
    prefix,
    clock: options.clock,
    name,
    backends: [...allowed],
    concurrency: options.concurrency,
    stats,
    ...(options.heartbeatMs !== undefined ? { everyMs: options.heartbeatMs } : {}),
  });
  const emit = options.onEvent ?? (() => {});
  const jobs = new JobRunner({
    stats,
    name,
    allowed,
    concurrency: options.concurrency,
    cacheDir,
    worktreeRoot: options.worktreeRoot,
    sandbox: options.sandbox,
    processRunner,
    env: options.env,
    clock: options.clock,
    git: options.git ?? createGit(processRunner, options.env),
    emit: (e) => {
      heartbeat.note(e);
      emit(e);
    },
  });
  const clients = lanes.map(() => connectRedis(url));
  const workers = lanes.map((lane, i) => {
    const w = new Worker(laneQueueName(lane), (job: Job) => jobs.process(job), {
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
  await heartbeat.start();

  return {
    name,
    lanes,
    stats: jobs.stats,
    async close(force = false) {
      if (force) stop.abort();
      await Promise.allSettled(workers.map((w) => w.close(force)));
      await heartbeat.stop();
      for (const c of [...clients, beatClient]) c.disconnect();
      if (ownCache) fs.rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}
