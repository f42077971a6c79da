import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Clock, digest, digestBytes, type ProcessRunner, type Sandbox } from "@dwm/core";
import { type GitPort, runAttempt } from "@dwm/executor";
import type { Attempt, AttemptJob, AttemptJobResult, BackendName } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import type { Job } from "bullmq";
import { dispatcherErrors } from "../errors.js";
import { errorInfo } from "../queue.js";
import { gitLocal, gitRemote } from "./git-remote.js";
import { backendsOf, jobIdOf, laneOf, queuedAttemptBranch } from "./names.js";
import { publishEvidence } from "./publish-evidence.js";

/** What a worker reports as it goes. */
export type AttemptWorkerEvent =
  | { kind: "started"; job_id: string; lane: string }
  | { kind: "finished"; job_id: string; outcome: string; duration_ms: number }
  | { kind: "failed"; job_id: string; code: string; message: string };

/**
 * Check a job before anything runs: it matches the attempt-job schema, its id, digests and
 * branch match its content and run instance (ERR_QUEUE_JOB_INVALID), and this worker runs every
 * backend it needs and it sits in the lane those backends make (ERR_QUEUE_BACKEND_NOT_ALLOWED).
 * Returns the job.
 */
export function checkJob(
  jobId: string | undefined,
  raw: unknown,
  allowed: ReadonlySet<BackendName>,
): AttemptJob {
  const v = validateSchema("attempt-job", raw);
  if (!v.ok) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_JOB_INVALID",
      `job ${jobId} does not match the attempt-job schema`,
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  const data = raw as AttemptJob;
  const request = data.request;
  const run = { runId: request.run_id, instance: data.run_instance };
  const { packet_id } = request.packet;
  if (
    data.job_id !== jobId ||
    jobId !== jobIdOf(run, packet_id, request.attempt) ||
    request.branch !== queuedAttemptBranch(run, packet_id, request.attempt) ||
    digest(request) !== data.request_digest ||
    digest(request.packet) !== data.packet_digest ||
    digestBytes(request.prompt) !== data.prompt_digest
  ) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_JOB_INVALID",
      `job ${jobId}: its id or digests do not match its content`,
    );
  }
  const needs = backendsOf(request);
  const refused = needs.filter((b) => !allowed.has(b));
  if (refused.length > 0 || laneOf(request) !== data.lane) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_BACKEND_NOT_ALLOWED",
      `job ${jobId} needs ${needs.join(", ")}; this worker runs only ${[...allowed].join(", ")}`,
      { details: { job_id: data.job_id, needs, allowed: [...allowed] } },
    );
  }
  return data;
}

/** A counting semaphore: the process-wide concurrency across lanes. */
export function semaphore(n: number) {
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

export interface JobRunnerOptions {
  name: string;
  /** Counts of jobs finished with a result and failed, kept up to date here. */
  stats: { processed: number; failed: number };
  allowed: ReadonlySet<BackendName>;
  concurrency: number;
  /** Local clones of the remotes live here (one per remote). */
  cacheDir: string;
  worktreeRoot?: string | undefined;
  /** The OS sandbox every worker and check runs in; default none, recorded in each attempt. */
  sandbox?: Sandbox | undefined;
  /** Attempts' processes: they get the worker's stop signal. */
  processRunner: ProcessRunner;
  env: Readonly<Record<string, string | undefined>>;
  clock: Clock;
  git: GitPort;
  emit: (e: AttemptWorkerEvent) => void;
}

/**
 * One worker process's handling of jobs: check the job, fetch its base into the local clone of
 * its remote, run the attempt there (evidence in a temporary folder), push the attempt branch
 * and evidence, and return the result. It never touches a run store.
 */
export class JobRunner {
  /** Jobs finished with a result, and jobs failed. */
  readonly stats: { processed: number; failed: number };
  private readonly gate: ReturnType<typeof semaphore>;
  private readonly clones = new Map<string, Promise<string>>();
  /** Bases this process fetched or found in a clone; a ref (refs/dwm/bases/<id>) keeps each there. */
  private readonly bases = new Set<string>();

  constructor(private readonly o: JobRunnerOptions) {
    this.gate = semaphore(o.concurrency);
    this.stats = o.stats;
  }

  /** Every failure reaches the coordinator as ErrorInfo JSON in BullMQ's failedReason. */
  async process(job: Job): Promise<AttemptJobResult> {
    try {
      return await this.run(job);
    } catch (e) {
      this.stats.failed++;
      const info = errorInfo(e);
      this.o.emit({ kind: "failed", job_id: String(job.id), code: info.code, message: info.message });
      throw new Error(JSON.stringify(info));
    }
  }

  private async run(job: Job): Promise<AttemptJobResult> {
    const data = checkJob(job.id, job.data, this.o.allowed);
    await this.gate.acquire();
    const t0 = this.o.clock.monotonicMs();
    this.o.emit({ kind: "started", job_id: data.job_id, lane: data.lane });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-job-"));
    try {
      const repo = await this.cloneOf(data.remote);
      await this.fetchBase(repo, data);
      const attemptDir = path.join(tmp, "attempt");
      const attempt = await runAttempt(
        { ...data.request, repo },
        {
          processRunner: this.o.processRunner,
          clock: this.o.clock,
          attemptDir,
          env: this.o.env,
          git: this.o.git,
          ...(this.o.sandbox ? { sandbox: this.o.sandbox } : {}),
          ...(this.o.worktreeRoot ? { worktreeRoot: this.o.worktreeRoot } : {}),
        },
      );
      const result = await this.publish(data, repo, attemptDir, attempt);
      this.stats.processed++;
      const duration_ms = Math.round(this.o.clock.monotonicMs() - t0);
      this.o.emit({ kind: "finished", job_id: data.job_id, outcome: attempt.outcome, duration_ms });
      return result;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      this.gate.release();
    }
  }

  /** The local clone of a remote (made once, an empty repository fetched into). */
  private cloneOf(remote: string): Promise<string> {
    let p = this.clones.get(remote);
    if (p) return p;
    const dir = path.join(this.o.cacheDir, digest(remote).slice(7, 23));
    p = (async () => {
      if (!fs.existsSync(path.join(dir, ".git"))) {
        fs.mkdirSync(dir, { recursive: true });
        const r = await this.o.git.run(dir, ["init", "--quiet"]);
        if (r.exitCode !== 0)
          throw dispatcherErrors.create("ERR_QUEUE_REMOTE_FAILED", `git init ${dir}: ${r.stderr.trim()}`);
      }
      return dir;
    })();
    p.catch(() => this.clones.delete(remote));
    this.clones.set(remote, p);
    return p;
  }

  /**
   * The base is fetched once per clone (the attempts of a run share few bases); once this process
   * knows a clone has it, later attempts on that base start without a git process.
   */
  private async fetchBase(repo: string, data: AttemptJob): Promise<void> {
    const base = data.request.base_commit;
    const key = `${repo}\0${base}`;
    if (this.bases.has(key)) return;
    await this.o.git.admin(repo, async () => {
      const have = await this.o.git.run(repo, ["cat-file", "-e", `${base}^{commit}`]);
      if (have.exitCode === 0) {
        // Found (an attempt of this clone made it): a ref keeps it from git gc while it is remembered.
        await gitLocal(this.o.git, repo, ["update-ref", `refs/dwm/bases/${base}`, base]);
        this.bases.add(key);
        return;
      }
      await gitRemote(
        this.o.git,
        this.o.env,
        repo,
        [
          "fetch",
          "--quiet",
          "--no-tags",
          "--no-write-fetch-head",
          data.remote,
          `+${base}:refs/dwm/bases/${base}`,
        ],
        `fetching base ${base.slice(0, 12)} of job ${data.job_id}`,
      );
      this.bases.add(key);
    });
  }

  /** Push the branch and evidence; the job's result (schema attempt-job-result). */
  private async publish(
    data: AttemptJob,
    repo: string,
    attemptDir: string,
    attempt: Attempt,
  ): Promise<AttemptJobResult> {
    const pushed = await publishEvidence({
      git: this.o.git,
      env: this.o.env,
      repo,
      remote: data.remote,
      run: { runId: data.request.run_id, instance: data.run_instance },
      requestDigest: data.request_digest,
      attemptDir,
      attempt,
    });
    const result: AttemptJobResult = {
      kind: "attempt-job-result",
      schema_version: "1",
      job_id: data.job_id,
      request_digest: data.request_digest,
      worker: this.o.name,
      attempt_digest: digest(attempt),
      attempt,
      ...pushed,
    };
    const rv = validateSchema("attempt-job-result", result);
    if (!rv.ok) {
      throw dispatcherErrors.create(
        "ERR_QUEUE_JOB_INVALID",
        `the result of job ${data.job_id} does not match its schema`,
        { details: { problems: rv.problems.slice(0, 10) } },
      );
    }
    return result;
  }
}
