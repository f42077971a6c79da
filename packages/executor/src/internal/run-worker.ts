import fs from "node:fs";
import path from "node:path";
import {
  type ProcessRequest,
  type ProcessResult,
  type ProcessRunner,
  type Sandbox,
  type SandboxView,
  writeFileAtomic,
} from "@dwm/core";
import type { AttemptFinding, AttemptLimits, AttemptOutcome, Invocation } from "@dwm/schemas";
import { recordArgv } from "./backends.js";
import { classifyInvocation } from "./classify.js";
import type { Redactor } from "./env.js";
import { capFile, DEFAULT_MAX_OUTPUT_BYTES, outputCapFindings, takeBack } from "./hand-over.js";
import type { JobInvocation } from "./invocation.js";
import type { TranscriptInfo } from "./json-lines.js";
import { watchTranscript } from "./transcript-watch.js";

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Between SIGTERM and SIGKILL of a process group that outlived its timeout. */
export const DEFAULT_KILL_GRACE_MS = 5_000;

/** One worker's process as it is started, and the view of the machine it gets. */
export interface WorkerLaunch {
  /** argv, cwd (the checkout), the complete allow-listed environment, stdin, output files, timeout, kill grace. */
  request: ProcessRequest;
  /** What it sees read-write, read-only and not at all, and its network. */
  view: SandboxView;
}

/**
 * Start one worker's process inside `sandbox` and wait for it: the only place the executor runs
 * a worker. The sandbox rewrites the request (`prepare`), and what it set up for the spawn is
 * released once the process ended. The runner kills the whole process group at the timeout.
 */
export async function launchWorker(
  runner: ProcessRunner,
  sandbox: Sandbox,
  launch: WorkerLaunch,
): Promise<ProcessResult> {
  const prepared = await sandbox.prepare(launch.request, launch.view);
  try {
    return await runner.run(prepared.request);
  } finally {
    await prepared.dispose();
  }
}

/** What running one invocation adds to the attempt. */
export interface RanInvocation {
  invocation: Invocation;
  /** How it ended (the invocation's outcome, never `not-run`). */
  outcome: AttemptOutcome;
  notes: string[];
  /** Output cut at its cap. */
  findings: AttemptFinding[];
  /** The delay a rate-limited endpoint advertised, when this invocation was rate-limited. */
  retryAfterMs: number | null;
}

/** What an invocation runs with besides its plan. */
export interface RunSettings {
  runner: ProcessRunner;
  sandbox: Sandbox;
  /** The worker's view (its checkout, the hand-over folder, inputs; what is hidden; its network). */
  view: SandboxView;
  /** The hand-over folder on the host (the worker sees it at its plan's `ioDir`); holds the prompt already. */
  hostIoDir: string;
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

/**
 * The output files of a finished process that reached the cap: the one whose cap killed it (the
 * runner kept exactly the cap), and any longer than the cap (a runner that does not cap while
 * the process runs: cut now).
 */
export function cappedFiles(
  r: Pick<ProcessResult, "outputCapped">,
  stdoutFile: string,
  stderrFile: string,
  cap: number,
): { files: string[]; killed: boolean } {
  const files = [stdoutFile, stderrFile].filter((f) => capFile(f, cap));
  if (r.outputCapped == null) return { files, killed: false };
  return { files: [...files, r.outputCapped === "stdout" ? stdoutFile : stderrFile], killed: true };
}

/** Run one planned invocation in the worktree, keep its output, and classify how it ended. */
export async function runInvocation(ji: JobInvocation, s: RunSettings): Promise<RanInvocation> {
  const { job, plan, paths } = ji;
  const dir = path.join(s.attemptDir, job.dir);
  if (plan.outputDir) fs.mkdirSync(path.join(s.hostIoDir, "out"), { recursive: true });
  const stdoutFile = path.join(dir, "stdout");
  const stderrFile = path.join(dir, "stderr");
  const cap = job.binding.max_output_bytes ?? s.limits.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const watch = watchTranscript(stdoutFile, plan.decisive);
  const r = await launchWorker(s.runner, s.sandbox, {
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
      // Capped while it runs, so a worker printing without end cannot fill the run store's disk.
      maxOutputBytes: cap,
    },
    view: s.view,
  });
  const stopped = watch.stop();
  for (const f of [stdoutFile, stderrFile]) if (!fs.existsSync(f)) fs.writeFileSync(f, "");
  const handedBack = takeBack(s.hostIoDir, dir, { outputDir: plan.outputDir, cap });
  const capped = cappedFiles(r, stdoutFile, stderrFile, cap);
  const findings = outputCapFindings(
    job.workerId,
    s.attemptDir,
    [...capped.files, ...handedBack.cut],
    cap,
    capped.killed,
  );
  const t = keepTranscript(ji, stdoutFile, s.attemptDir);
  const c = capped.killed
    ? {
        outcome: "task-failed" as const,
        detail: `${r.outputCapped} reached its cap of ${cap} bytes: DWM killed the worker's processes`,
      }
    : classifyInvocation(plan.argv[0], r, t.info, stopped);
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
  const stoppedNote = stopped === null ? [] : [`${job.workerId}: stopped early: ${stopped}`];
  return {
    invocation,
    outcome: c.outcome,
    notes: [...t.notes, ...handedBack.notes, ...stoppedNote],
    findings,
    retryAfterMs,
  };
}
