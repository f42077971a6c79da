import path from "node:path";
import { type Clock, digest, type ProcessRunner, writeArtifact, writeFileAtomic } from "@dwm/core";
import type { Attempt, AttemptRequest } from "@dwm/schemas";
import { type AttemptRecord, assembleAttempt, emptyRecord } from "./internal/attempt-record.js";
import { type Attribution, attribute, recordChanges } from "./internal/changes.js";
import { planChecks, runChecks } from "./internal/checks.js";
import { enforcePermissions } from "./internal/enforce.js";
import { BASE_ENV_NAMES, buildEnv, type Redactor } from "./internal/env.js";
import { attemptBranch, createGit, type GitPort } from "./internal/git.js";
import { copyInputs } from "./internal/inputs.js";
import {
  type JobInvocation,
  missingProgram,
  NO_WORKTREE,
  notRun,
  planJobInvocation,
  redactorFor,
} from "./internal/invocation.js";
import { type Job, promptFor } from "./internal/jobs.js";
import { collectOutputs } from "./internal/outputs.js";
import { type PreparedAttempt, prepareAttempt } from "./internal/prepare.js";
import { runInvocation } from "./internal/run-worker.js";
import { sealEvidence } from "./internal/seal.js";
import {
  addWorktree,
  type Checkout,
  commitWork,
  removeCheckout,
  reserveCheckout,
  stageChanges,
} from "./internal/worktree.js";

export { isInfraOutcome } from "@dwm/core";
export { INPUTS_DIR } from "./internal/inputs.js";
export { DWM_GIT_IDENTITY } from "./internal/worktree.js";

/** Side effects of an attempt, passed in. */
export interface ExecutorPorts {
  processRunner: ProcessRunner;
  clock: Clock;
  /** Where the evidence goes: `<runDir>/attempts/<packet_id>/<n>/`. */
  attemptDir: string;
  /** DWM's own environment; workers get only allow-listed names from it. */
  env: Readonly<Record<string, string | undefined>>;
  /** Default: git over `processRunner`, worktree admin queued per repository. */
  git?: GitPort;
  /** Where worktrees are made; must be outside the repository. Default: os.tmpdir(). */
  worktreeRoot?: string;
}

/** What every step of one attempt reads; what they find goes into the AttemptRecord. */
interface AttemptContext {
  request: AttemptRequest;
  prep: PreparedAttempt;
  ports: ExecutorPorts;
  git: GitPort;
  branch: string;
  redactor: Redactor;
}

/** Plan every job's invocation in `worktree`, and write its prompt. */
function planJob(ctx: AttemptContext, job: Job, worktree: string): JobInvocation {
  const { request, prep } = ctx;
  writeFileAtomic(
    path.join(prep.attemptDir, job.dir, "prompt.md"),
    promptFor(request, job, prep.jobs.length),
  );
  return planJobInvocation(request, job, prep.attemptDir, worktree, ctx.ports.env);
}

/** Why a job is not started: a dry run never is; otherwise `stopped` says why the attempt stopped before it. */
function whyNotStarted(job: Job, stopped: string): string {
  return job.binding.backend === "dry-run" ? "dry run: nothing was started" : stopped;
}

/** No worktree is needed (every worker is dry-run) or can be had (a program is missing): record what would have run. */
function recordNothingRun(ctx: AttemptContext, record: AttemptRecord, missing: Job | undefined): void {
  for (const job of ctx.prep.jobs) {
    const ji = planJob(ctx, job, NO_WORKTREE);
    if (job === missing) {
      record.outcome = "backend-missing";
      const why = `${ji.plan.argv[0]} is not on PATH`;
      record.invocations.push({ ...notRun(ji, why, ctx.redactor), outcome: "backend-missing" });
      continue;
    }
    record.invocations.push(
      notRun(ji, whyNotStarted(job, "the attempt stopped before this worker"), ctx.redactor),
    );
  }
  if (missing !== undefined) record.notes.push("no worktree was made: a backend program is missing");
}

/**
 * Run the jobs in order in the worktree, each staged after it ran so its changed paths are
 * attributed to it. The first invocation that does not end ok decides the outcome; the later
 * ones are not started. Returns the staged tree and who changed what.
 */
async function runJobs(
  ctx: AttemptContext,
  wt: string,
  record: AttemptRecord,
): Promise<{ tree: string; touchedBy: Attribution }> {
  const { request, prep } = ctx;
  let tree = prep.baseTree;
  const touchedBy: Attribution = new Map();
  for (const job of prep.jobs) {
    const ji = planJob(ctx, job, wt);
    if (record.outcome !== "ok" || job.binding.backend === "dry-run") {
      record.invocations.push(
        notRun(ji, whyNotStarted(job, "an earlier invocation did not end ok"), ctx.redactor),
      );
      continue;
    }
    for (const n of ji.envNames) record.envNames.add(n);
    const ran = await runInvocation(ji, {
      runner: ctx.ports.processRunner,
      attemptDir: prep.attemptDir,
      worktree: wt,
      prompt: promptFor(request, job, prep.jobs.length),
      limits: request.limits,
      redactor: ctx.redactor,
    });
    record.invocations.push(ran.invocation);
    record.notes.push(...ran.notes);
    record.lastRun = ran.invocation;
    if (ran.outcome !== "ok") record.outcome = ran.outcome;
    if (ran.outcome === "rate-limited") record.retryAfterMs = ran.retryAfterMs;
    const staged = await stageChanges(ctx.git, wt, prep.repo, tree);
    record.notes.push(...staged.notes);
    attribute(touchedBy, job.workerId, staged.paths);
    tree = staged.tree;
  }
  return { tree, touchedBy };
}

/** The evidence of the committed work: diff and changed files, declared outputs, enforcement findings. */
async function collectEvidence(
  ctx: AttemptContext,
  wt: string,
  head: string,
  touchedBy: Attribution,
  record: AttemptRecord,
): Promise<void> {
  const { request, prep } = ctx;
  const range = { base: request.base_commit, head };
  const changes = await recordChanges(ctx.git, wt, prep.attemptDir, range, touchedBy);
  record.diff = changes.diff;
  record.changed = changes.changed;
  const out = collectOutputs(request.packet.outputs, wt, prep.attemptDir);
  record.outputs.push(...out.outputs);
  record.copiedOutputs.push(...out.copied);
  record.findings.push(...out.findings);
  record.notes.push(...out.notes);
  const enforced = enforcePermissions(prep.jobs, record.changed, out.declared);
  record.findings.push(...enforced.findings);
  record.notes.push(...enforced.notes);
}

/** DWM's own checks, after the work is committed, only on work that ended ok. */
async function checkTheWork(ctx: AttemptContext, wt: string, record: AttemptRecord): Promise<void> {
  const planned = planChecks(ctx.request.packet);
  if (record.outcome !== "ok") {
    if (planned.length > 0) record.notes.push(`${planned.length} check(s) not run: the work did not end ok`);
    return;
  }
  record.checks = await runChecks(planned, {
    runner: ctx.ports.processRunner,
    worktree: wt,
    attemptDir: ctx.prep.attemptDir,
    env: buildEnv(ctx.ports.env, BASE_ENV_NAMES).env,
    limits: ctx.request.limits,
  });
}

/** In the attempt's own worktree: the inputs copied in, the jobs run, DWM's commit, the evidence, the checks. */
async function workInCheckout(ctx: AttemptContext, wt: string, record: AttemptRecord): Promise<void> {
  const { request, prep } = ctx;
  await addWorktree(ctx.git, prep.repo, wt, ctx.branch, request.base_commit);
  copyInputs(wt, prep.inputs);
  const { tree, touchedBy } = await runJobs(ctx, wt, record);
  const packet = request.packet;
  const message = `dwm: ${packet.packet_id} attempt ${request.attempt}\n\nrun: ${request.run_id}\npacket: ${digest(packet)}\noutcome: ${record.outcome}\n`;
  const head = await commitWork(ctx.git, wt, { tree, branch: ctx.branch, message, clock: ctx.ports.clock });
  record.headCommit = head;
  await collectEvidence(ctx, wt, head, touchedBy, record);
  await checkTheWork(ctx, wt, record);
}

/**
 * Run one attempt of one packet: a git worktree on branch `dwm/<run>/<packet>/<n>` from the
 * base commit, each worker in order through its backend, DWM's commit of the work, the diff,
 * the declared outputs, DWM's own checks, enforcement findings; then the worktree is removed
 * (the branch keeps the work). Every evidence file is written before attempt.json, which lists
 * them all with their digests. Returns the attempt (also written to `ports.attemptDir`).
 */
export async function runAttempt(request: AttemptRequest, ports: ExecutorPorts): Promise<Attempt> {
  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const prep = await prepareAttempt(request, git, ports);
  const startedAt = ports.clock.now();
  const t0 = ports.clock.monotonicMs();
  const branch = request.branch ?? attemptBranch(request.run_id, request.packet.packet_id, request.attempt);
  const planned = prep.jobs.map((job) =>
    planJobInvocation(request, job, prep.attemptDir, NO_WORKTREE, ports.env),
  );
  const ctx: AttemptContext = {
    request,
    prep,
    ports,
    git,
    branch,
    redactor: redactorFor(planned, ports.env),
  };
  const missing = missingProgram(planned)?.job;
  const record = emptyRecord();
  let checkout: Checkout | null = null;
  try {
    if (missing !== undefined || prep.jobs.every((j) => j.binding.backend === "dry-run")) {
      recordNothingRun(ctx, record, missing);
    } else {
      checkout = reserveCheckout(prep.worktreeRoot);
      await workInCheckout(ctx, checkout.worktree, record);
    }
  } finally {
    await removeCheckout(git, prep.repo, checkout);
  }
  const sealed = sealEvidence(prep.attemptDir, ctx.redactor, record.copiedOutputs);
  record.notes.push(...sealed.notes);
  record.findings.push(...sealed.findings);
  const finishedAt = ports.clock.now();
  const durationMs = Math.max(0, Math.round(ports.clock.monotonicMs() - t0));
  const dryRun = prep.jobs.length > 0 && prep.jobs.every((j) => j.binding.backend === "dry-run");
  const where = { attemptDir: prep.attemptDir, branch, dryRun };
  const attempt = assembleAttempt(request, prep.inputs, where, record, { startedAt, finishedAt, durationMs });
  writeArtifact(path.join(prep.attemptDir, "attempt.json"), "attempt", attempt);
  return attempt;
}
