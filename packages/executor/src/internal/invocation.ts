import path from "node:path";
import type { AttemptRequest, Invocation } from "@dwm/schemas";
import {
  gatewayEnv,
  type InvocationPaths,
  type Permissions,
  type PlannedInvocation,
  planInvocation,
  recordArgv,
} from "./backends.js";
import { BACKEND_ENV_NAMES, BASE_ENV_NAMES, buildEnv, Redactor } from "./env.js";
import { which } from "./fs-evidence.js";
import { INPUTS_DIR } from "./inputs.js";
import type { Job } from "./jobs.js";

/** One job's invocation, planned: its local paths, argv and stdin, and the environment it gets. */
export interface JobInvocation {
  job: Job;
  paths: InvocationPaths;
  plan: PlannedInvocation;
  env: Record<string, string>;
  /** The names of `env`, sorted (what the evidence records). */
  envNames: string[];
}

/** Stands in for the worktree before there is one: redaction, the PATH lookup, records of what did not run. */
export const NO_WORKTREE = "/nonexistent";
/** Stands in for the hand-over folder before there is one. */
export const NO_IO_DIR = "/nonexistent-io";

// A packet's own command has no worker permissions; its backend (shell) reads none.
const NO_PERMISSIONS: Permissions = { write: false, shell: false, network: false };

/** Where a worker finds what DWM hands it, as the worker sees it: its checkout and its hand-over folder. */
export interface WorkerPlace {
  worktree: string;
  /** The hand-over folder: `/tmp/dwm` inside a sandbox, a host folder outside the run store without one. */
  ioDir: string;
}

function invocationPaths(place: WorkerPlace): InvocationPaths {
  return {
    worktree: place.worktree,
    promptFile: path.posix.join(place.ioDir, "prompt.md"),
    outputDir: path.posix.join(place.ioDir, "out"),
    lastMessageFile: path.posix.join(place.ioDir, "last-message.md"),
    ioDir: place.ioDir,
  };
}

/** The allow-listed environment of a worker: base names, its backend's, its gateway's, pass_env, env, DWM_*. */
function workerEnv(
  request: AttemptRequest,
  job: Job,
  paths: InvocationPaths,
  plan: PlannedInvocation,
  source: Readonly<Record<string, string | undefined>>,
): { env: Record<string, string>; names: string[] } {
  const gateway = gatewayEnv(job.binding, source);
  const names = [
    ...BASE_ENV_NAMES,
    ...BACKEND_ENV_NAMES[job.binding.backend],
    ...gateway.names,
    ...(job.binding.pass_env ?? []),
  ];
  const dwm: Record<string, string> = {
    DWM_RUN_ID: request.run_id,
    DWM_PACKET_ID: request.packet.packet_id,
    DWM_ATTEMPT: String(request.attempt),
    DWM_WORKER_ID: job.workerId,
    DWM_PROMPT_FILE: paths.promptFile,
    DWM_WORKTREE: paths.worktree,
    DWM_INPUTS_DIR: path.join(paths.worktree, INPUTS_DIR),
    ...(plan.outputDir ? { DWM_OUTPUT_DIR: paths.outputDir } : {}),
  };
  const literal = {
    ...gateway.literal,
    ...Object.fromEntries(
      Object.entries(job.binding.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
    ),
  };
  return buildEnv(source, names, literal, dwm);
}

/** Plan one job's invocation at `place`: paths, argv from its backend, environment. */
export function planJobInvocation(
  request: AttemptRequest,
  job: Job,
  place: WorkerPlace & { sandboxed: boolean },
  source: Readonly<Record<string, string | undefined>>,
): JobInvocation {
  const paths = invocationPaths(place);
  const plan = planInvocation(job.binding, job.permissions ?? NO_PERMISSIONS, paths, {
    sandboxed: place.sandboxed,
  });
  const { env, names } = workerEnv(request, job, paths, plan, source);
  return { job, paths, plan, env, envNames: names };
}

/**
 * A redactor that knows every secret DWM could hand to any worker, so every evidence file can be
 * redacted, and DWM's own secret-looking variables: a worker can read its ancestors' environment
 * (/proc/<pid>/environ) even though the allow-list never gave it them.
 */
export function redactorFor(
  planned: readonly JobInvocation[],
  source: Readonly<Record<string, string | undefined>>,
): Redactor {
  const redactor = new Redactor();
  for (const { job, env } of planned) {
    redactor.add(env, job.binding.api_key_env === undefined ? [] : [job.binding.api_key_env]);
  }
  redactor.add(
    Object.fromEntries(Object.entries(source).filter((e): e is [string, string] => e[1] !== undefined)),
  );
  return redactor;
}

/** The first invocation whose program is not on the PATH its worker gets (checked before any worktree). */
export function missingProgram(planned: readonly JobInvocation[]): JobInvocation | undefined {
  return planned.find(({ job, plan, env }) => {
    if (job.binding.backend === "dry-run") return false;
    const program = plan.argv[0] ?? "";
    return !program.includes("/") && which(program, env.PATH) === null;
  });
}

/** The record of an invocation that was not started, and why. */
export function notRun(ji: JobInvocation, why: string, redactor: Redactor): Invocation {
  return {
    worker_id: ji.job.workerId,
    backend: ji.job.binding.backend,
    argv: recordArgv(ji.plan.argv, ji.paths).map((a) => redactor.redactText(a)),
    stdin: ji.plan.stdin,
    env_names: [],
    outcome: "not-run",
    exit_code: null,
    signal: null,
    timed_out: false,
    duration_ms: 0,
    prompt: `${ji.job.dir}/prompt.md`,
    stdout: null,
    stderr: null,
    transcript: null,
    output_dir: null,
    tokens: null,
    detail: why,
  };
}
