import fs from "node:fs";
import path from "node:path";
import { type ProcessRequest, type ProcessResult, type ProcessRunner, writeFileAtomic } from "@dwm/core";
import type { AttemptLimits, AttemptOutcome, BackendName, Invocation } from "@dwm/schemas";
import { type InvocationPaths, type Permissions, recordArgv } from "./backends.js";
import { classifyInvocation } from "./classify.js";
import type { Redactor } from "./env.js";
import type { JobInvocation } from "./invocation.js";
import type { TranscriptInfo } from "./json-lines.js";
import { watchTranscript } from "./transcript-watch.js";

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Between SIGTERM and SIGKILL of a process group that outlived its timeout. */
export const DEFAULT_KILL_GRACE_MS = 5_000;

/** What a sandbox around a worker's process needs to know of the worker, besides the process itself. */
export interface WorkerFacts {
  backend: BackendName;
  /** Its tool permissions (write: a writable checkout; network); null for a packet's own command. */
  permissions: Permissions | null;
  /** An agent CLI's model endpoint (the binding's `base_url`), which it must reach whatever its permissions. */
  baseUrl: string | undefined;
  /** The host paths it is handed: prompt file, output folder, codex's last-message file. */
  paths: InvocationPaths;
}

/** One worker's process as it is started, and the facts a sandbox around it would need. */
export interface WorkerLaunch {
  /** argv, cwd (the checkout), the complete allow-listed environment, stdin, output files, timeout, kill grace. */
  request: ProcessRequest;
  worker: WorkerFacts;
}

/**
 * Start one worker's process and wait for it: the only place the executor runs a worker, so an
 * OS sandbox wraps `launch.request` here. The runner kills the whole process group at the timeout.
 */
export function launchWorker(runner: ProcessRunner, launch: WorkerLaunch): Promise<ProcessResult> {
  return runner.run(launch.request);
}

/** What running one invocation adds to the attempt. */
export interface RanInvocation {
  invocation: Invocation;
  /** How it ended (the invocation's outcome, never `not-run`). */
  outcome: AttemptOutcome;
  notes: string[];
  /** The delay a rate-limited endpoint advertised, when this invocation was rate-limited. */
  retryAfterMs: number | null;
}

/** What an invocation runs with besides its plan. */
export interface RunSettings {
  runner: ProcessRunner;
  attemptDir: string;
  worktree: string;
  /** The prompt, for a backend that reads it on stdin. */
  prompt: string;
  limits: AttemptLimits;
  redactor: Redactor;
}

/** The transcript of an agent CLI, kept as `transcript.jsonl` (the JSON lines of its stdout). */
function keepTranscript(
  ji: JobInvocation,
  stdoutFile: string,
  attemptDir: string,
): { info: TranscriptInfo | null; rel: string | null; notes: string[] } {
  if (ji.plan.readTranscript === null) return { info: null, rel: null, notes: [] };
  const info = ji.plan.readTranscript(fs.readFileSync(stdoutFile, "utf8"));
  const rel = `${ji.job.dir}/transcript.jsonl`;
  writeFileAtomic(path.join(attemptDir, rel), info.jsonLines.map((l) => `${l}\n`).join(""));
  const notes =
    info.otherLines > 0
      ? [`${ji.job.workerId}: ${info.otherLines} line(s) of stdout are not JSON events`]
      : [];
  return { info, rel, notes };
}

/** Run one planned invocation in the worktree, keep its output, and classify how it ended. */
export async function runInvocation(ji: JobInvocation, s: RunSettings): Promise<RanInvocation> {
  const { job, plan, paths } = ji;
  const dir = path.join(s.attemptDir, job.dir);
  if (plan.outputDir) fs.mkdirSync(paths.outputDir, { recursive: true });
  const stdoutFile = path.join(dir, "stdout");
  const stderrFile = path.join(dir, "stderr");
  const watch = watchTranscript(stdoutFile, plan.decisive);
  const r = await launchWorker(s.runner, {
    request: {
      argv: plan.argv,
      cwd: s.worktree,
      env: ji.env,
      stdin: plan.stdin === "prompt" ? s.prompt : undefined,
      stdoutFile,
      stderrFile,
      timeoutMs: job.binding.timeout_ms ?? s.limits.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      killGraceMs: s.limits.kill_grace_ms ?? DEFAULT_KILL_GRACE_MS,
      signal: watch.signal,
    },
    worker: {
      backend: job.binding.backend,
      permissions: job.permissions,
      baseUrl: job.binding.base_url,
      paths,
    },
  });
  const stopped = watch.stop();
  for (const f of [stdoutFile, stderrFile]) if (!fs.existsSync(f)) fs.writeFileSync(f, "");
  const t = keepTranscript(ji, stdoutFile, s.attemptDir);
  const c = classifyInvocation(plan.argv[0], r, t.info, stopped);
  const invocation: Invocation = {
    worker_id: job.workerId,
    backend: job.binding.backend,
    argv: recordArgv(plan.argv, paths).map((a) => s.redactor.redactText(a)),
    stdin: plan.stdin,
    env_names: ji.envNames,
    outcome: c.outcome,
    exit_code: r.exitCode,
    signal: r.signal,
    // Stopped by DWM for an auth failure its transcript proved: the runner's abort is no timeout.
    timed_out: r.timedOut && stopped === null,
    duration_ms: Math.max(0, Math.round(r.durationMs)),
    prompt: `${job.dir}/prompt.md`,
    stdout: `${job.dir}/stdout`,
    stderr: `${job.dir}/stderr`,
    transcript: t.rel,
    output_dir: plan.outputDir ? `${job.dir}/out` : null,
    tokens: t.info?.tokens ?? null,
    detail: c.detail === null ? null : s.redactor.redactText(c.detail).slice(0, 2000),
  };
  const retryAfterMs = c.outcome === "rate-limited" ? (t.info?.retryAfterMs ?? null) : null;
  const notes = stopped === null ? t.notes : [...t.notes, `${job.workerId}: stopped early: ${stopped}`];
  return { invocation, outcome: c.outcome, notes, retryAfterMs };
}
