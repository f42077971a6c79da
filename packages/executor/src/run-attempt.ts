import fs from "node:fs";
import path from "node:path";
import {
  type Clock,
  digest,
  dwmConfigDir,
  noSandbox,
  type ProcessRunner,
  type Sandbox,
  type SandboxBind,
  writeArtifact,
  writeFileAtomic,
} from "@dwm/core";
import type { Attempt, AttemptRequest } from "@dwm/schemas";
import { type AttemptRecord, assembleAttempt, emptyRecord } from "./internal/attempt-record.js";
import {
  type AttemptSpace,
  commitWork,
  importWork,
  inspectWorkerGit,
  jobIoDir,
  openSpace,
  removeSpace,
  reserveSpace,
  stageWork,
} from "./internal/attempt-space.js";
import { type Attribution, attribute, recordChanges } from "./internal/changes.js";
import { createCheckout, type WorkerCheckout } from "./internal/checkout.js";
import { planChecks, runChecks } from "./internal/checks.js";
import { enforcePermissions } from "./internal/enforce.js";
import { BASE_ENV_NAMES, buildEnv, type Redactor } from "./internal/env.js";
import { createGit, type GitPort, gitOk } from "./internal/git.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "./internal/hand-over.js";
import { copyInputs, INPUTS_DIR } from "./internal/inputs.js";
import {
  type JobInvocation,
  missingProgram,
  NO_IO_DIR,
  NO_WORKTREE,
  notRun,
  planJobInvocation,
  redactorFor,
} from "./internal/invocation.js";
import { type Job, promptFor } from "./internal/jobs.js";
import { collectOutputs } from "./internal/outputs.js";
import { looksLikePath } from "./internal/ownership.js";
import { type PreparedAttempt, prepareAttempt } from "./internal/prepare.js";
import { runInvocation } from "./internal/run-worker.js";
import { redactStrings, sealEvidence } from "./internal/seal.js";
import { spaceOwner } from "./internal/space-owner.js";
import {
  openViewSpace,
  type PrivatePath,
  screenOutputs,
  skeletonBinds,
  stageOutputs,
  type ViewSpace,
} from "./internal/view-space.js";
import {
  checkView,
  hiddenPaths,
  jobView,
  makeAgentHome,
  operatorAgentState,
  pathBinds,
  type ViewBase,
} from "./internal/views.js";
import { attemptRef, qualifiedRef } from "./refs.js";
import { compareRepositorySnapshots, snapshotRepository } from "./repo-integrity.js";
import type { SharedViews, ViewLease } from "./shared-views.js";
import { viewEligibility } from "./view-eligibility.js";
import { WORKER_IO_DIR } from "./worker-view.js";

export { isInfraOutcome } from "@dwm/core";
export { DWM_GIT_IDENTITY } from "./internal/attempt-space.js";
export { INPUTS_DIR } from "./internal/inputs.js";

/**
 * Refs DWM itself writes while attempts run (other attempts' refs under `refs/dwm/`, the
 * integration branch, attempt branches of earlier versions, other runs on the same repository):
 * the repository check leaves them to their writers (the run loop checks its integration
 * branch against the head it recorded).
 */
export const DWM_REF_NAMESPACES = ["refs/heads/dwm/", "refs/dwm/"] as const;

/** Side effects of an attempt, passed in. */
export interface ExecutorPorts {
  processRunner: ProcessRunner;
  clock: Clock;
  /** Where the evidence goes: `<runDir>/attempts/<packet_id>/<n>/`. */
  attemptDir: string;
  /** DWM's own environment; workers get only allow-listed names from it. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The OS sandbox every worker and check runs in (`bubblewrapSandbox`). Default `noSandbox`:
   * workers run as the operator; the attempt records `sandbox: "none"`.
   */
  sandbox?: Sandbox;
  /** More paths no worker may see, besides `<repo>/.dwm` and the attempt's evidence: a `--store` root, key folders. */
  hidden?: readonly string[];
  /** Default: git over `processRunner`. */
  git?: GitPort;
  /** Where attempt folders (checkout, hand-over) are made; must be outside the repository. Default: os.tmpdir(). */
  worktreeRoot?: string;
  /**
   * Shared read-only views of base commits (`createSharedViews`, one per run). Given, and with a
   * sandbox that isolates, a packet whose writes are confined to its output folder
   * (viewEligibility) runs in the view of its base commit instead of a checkout of its own.
   */
  views?: SharedViews;
}

/** What every step of one attempt reads; what they find goes into the AttemptRecord. */
interface AttemptContext {
  request: AttemptRequest;
  prep: PreparedAttempt;
  ports: ExecutorPorts;
  git: GitPort;
  sandbox: Sandbox;
  branch: string;
  redactor: Redactor;
  /** The shared view the attempt runs in, held until its folder is removed. */
  lease?: ViewLease;
}

/** Where a job's worker finds what DWM hands it: `/tmp/dwm` in a sandbox, the host folder without one. */
function placeOf(ctx: AttemptContext, worktree: string, hostIoDir: string | null) {
  const isolates = ctx.sandbox.isolates;
  return {
    worktree,
    ioDir: isolates ? WORKER_IO_DIR : (hostIoDir ?? NO_IO_DIR),
    sandboxed: isolates,
  };
}

/** Plan a job's invocation and write its prompt into the evidence (and the hand-over folder, when there is one). */
function planJob(ctx: AttemptContext, job: Job, worktree: string, hostIoDir: string | null): JobInvocation {
  const { request, prep } = ctx;
  const prompt = promptFor(request, job, prep.jobs.length);
  writeFileAtomic(path.join(prep.attemptDir, job.dir, "prompt.md"), prompt);
  if (hostIoDir !== null) fs.writeFileSync(path.join(hostIoDir, "prompt.md"), prompt);
  return planJobInvocation(request, job, placeOf(ctx, worktree, hostIoDir), ctx.ports.env);
}

/** Why a job is not started: a dry run never is; otherwise `stopped` says why the attempt stopped before it. */
function whyNotStarted(job: Job, stopped: string): string {
  return job.binding.backend === "dry-run" ? "dry run: nothing was started" : stopped;
}

/** No checkout is needed (every worker is dry-run) or can be had (a program is missing): record what would have run. */
function recordNothingRun(ctx: AttemptContext, record: AttemptRecord, missing: Job | undefined): void {
  for (const job of ctx.prep.jobs) {
    const ji = planJob(ctx, job, NO_WORKTREE, null);
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
 * An agent worker's invocation pointed at its private agent home in the attempt's folder, seeded
 * from the home its environment names (the operator's, or its binding's own): see makeAgentHome.
 * Only inside a sandbox that isolates: without one the worker has the operator's powers anyway,
 * and Codex's own sandbox does not start its commands with a home under the temp folder. The
 * redactor learns the tokens seeded into it.
 */
function withAgentHome(
  ctx: AttemptContext,
  ji: JobInvocation,
  space: AttemptSpace,
): { ji: JobInvocation; agentHome: string | null } {
  if (!ctx.sandbox.isolates) return { ji, agentHome: null };
  const home = makeAgentHome(ji.job, ji.env, path.join(space.root, "agent-home", String(ji.job.index)));
  if (home === null) return { ji, agentHome: null };
  ctx.redactor.add(home.secrets, Object.keys(home.secrets));
  const env = { ...ji.env, ...home.env };
  return { ji: { ...ji, env, envNames: Object.keys(env).sort() }, agentHome: home.dir };
}

/**
 * Run the jobs in order in the checkout, each in its sandbox view and staged after it ran (with
 * DWM's own git folder) so its changed paths are attributed to it. The first invocation that
 * does not end ok decides the outcome; the later ones are not started. Returns the staged tree
 * and who changed what.
 */
async function runJobs(
  ctx: AttemptContext,
  space: AttemptSpace,
  viewBase: ViewBase,
  record: AttemptRecord,
): Promise<{ tree: string; touchedBy: Attribution; nameStatus: string[] | null }> {
  const { request, prep } = ctx;
  const wt = space.checkout.dir;
  const inView = isViewSpace(space) ? space : null;
  let tree = prep.baseTree;
  const touchedBy: Attribution = new Map();
  const stagings: string[][] = [];
  for (const job of prep.jobs) {
    const hostIo = jobIoDir(space, job.index);
    const planned = planJob(ctx, job, wt, hostIo);
    if (record.outcome !== "ok" || job.binding.backend === "dry-run") {
      record.invocations.push(
        notRun(planned, whyNotStarted(job, "an earlier invocation did not end ok"), ctx.redactor),
      );
      continue;
    }
    const { ji, agentHome } = withAgentHome(ctx, planned, space);
    for (const n of ji.envNames) record.envNames.add(n);
    const declaresOutputs = request.packet.outputs.some((o) => looksLikePath(o.artifact));
    // A binding's own CODEX_HOME or CLAUDE_CONFIG_DIR is hidden like the operator's.
    const base = { ...viewBase, hidden: [...viewBase.hidden, ...operatorAgentState(planned.env)] };
    const binds = inView?.binds ?? null;
    const { view, note } = jobView(
      base,
      space.checkout,
      job,
      hostIo,
      ji.env,
      declaresOutputs,
      agentHome,
      binds,
    );
    if (note !== null) record.notes.push(note);
    const ran = await runInvocation(ji, {
      runner: ctx.ports.processRunner,
      sandbox: ctx.sandbox,
      view,
      hostIoDir: hostIo,
      attemptDir: prep.attemptDir,
      worktree: wt,
      prompt: promptFor(request, job, prep.jobs.length),
      limits: request.limits,
      redactor: ctx.redactor,
    });
    record.invocations.push(ran.invocation);
    record.notes.push(...ran.notes);
    record.findings.push(...ran.findings);
    record.lastRun = ran.invocation;
    if (ran.outcome !== "ok") record.outcome = ran.outcome;
    if (ran.outcome === "rate-limited") record.retryAfterMs = ran.retryAfterMs;
    if (inView !== null) record.findings.push(...screenOutputs(inView, job.workerId, outputCap(request)));
    const staged =
      inView === null ? await stageWork(ctx.git, space, tree) : await stageOutputs(ctx.git, inView, tree);
    attribute(touchedBy, job.workerId, staged.paths);
    stagings.push(staged.nameStatus);
    tree = staged.tree;
  }
  // One staging from the base tree is the whole diff base → head: the evidence needs no second diff.
  return { tree, touchedBy, nameStatus: stagings.length === 1 ? (stagings[0] ?? null) : null };
}

/** The evidence of the committed work: diff and changed files, declared outputs, enforcement findings. */
async function collectEvidence(
  ctx: AttemptContext,
  wt: string,
  head: string,
  staged: { touchedBy: Attribution; nameStatus: string[] | null },
  record: AttemptRecord,
): Promise<void> {
  const { request, prep } = ctx;
  const range = { base: request.base_commit, head };
  // Both commits are in the repository now: git reads them there, never with the worker's git folder.
  const changes = await recordChanges(
    ctx.git,
    prep.repo,
    prep.attemptDir,
    range,
    staged.touchedBy,
    staged.nameStatus,
  );
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

function isViewSpace(space: AttemptSpace): space is ViewSpace {
  return "binds" in space;
}

/** The cap of one recorded file of an output folder: the attempt's output cap. */
function outputCap(request: AttemptRequest): number {
  return request.limits.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES;
}

/**
 * Where the checks of an attempt in the shared view run: the view again, with a fresh copy of
 * the output folder as committed (from DWM's index, so what the checks see is what is merged).
 */
async function checkSkeleton(
  ctx: AttemptContext,
  space: ViewSpace,
): Promise<{ clean: WorkerCheckout; binds: SandboxBind[] | null }> {
  const outRoot = path.join(space.root, "check-out");
  fs.mkdirSync(path.join(outRoot, space.folder), { recursive: true });
  const opts = { env: space.gitEnv };
  const listed = await gitOk(ctx.git, space.outRoot, ["ls-files", "-z", "--", space.folder], opts);
  if (listed !== "") {
    await gitOk(ctx.git, space.outRoot, ["checkout-index", "-f", "-z", "--stdin", `--prefix=${outRoot}/`], {
      ...opts,
      stdin: listed,
    });
  }
  const clean: WorkerCheckout = { dir: path.join(space.root, "check"), objectDirs: space.view.objectDirs };
  const privates: PrivatePath[] = [
    { rel: space.folder, source: path.join(outRoot, space.folder), writable: true },
  ];
  if (space.inputsDir !== null) privates.push({ rel: INPUTS_DIR, source: null, writable: false });
  return { clean, binds: skeletonBinds(space.view.dir, clean.dir, privates) };
}

/**
 * DWM's own checks, only on work that ended ok: in a clean checkout of the attempt's commit (what
 * will be merged), inside the sandbox, with the inputs read-only and no network.
 */
async function checkTheWork(
  ctx: AttemptContext,
  space: AttemptSpace,
  viewBase: ViewBase,
  head: string,
  record: AttemptRecord,
): Promise<void> {
  const planned = planChecks(ctx.request.packet);
  if (record.outcome !== "ok") {
    if (planned.length > 0) record.notes.push(`${planned.length} check(s) not run: the work did not end ok`);
    return;
  }
  if (planned.length === 0) return;
  const { prep } = ctx;
  const { clean, binds } = isViewSpace(space)
    ? await checkSkeleton(ctx, space)
    : { clean: await createCheckout(ctx.git, prep.repo, head, path.join(space.root, "check")), binds: null };
  if (prep.inputs.length > 0 && binds === null) {
    if (ctx.sandbox.isolates) fs.mkdirSync(path.join(clean.dir, INPUTS_DIR));
    else copyInputs(clean.dir, prep.inputs);
  }
  const ioDir = path.join(space.root, "io", "check");
  fs.mkdirSync(ioDir, { recursive: true });
  const r = await runChecks(planned, {
    runner: ctx.ports.processRunner,
    sandbox: ctx.sandbox,
    view: checkView(viewBase, clean, ioDir, binds),
    checkout: clean.dir,
    attemptDir: prep.attemptDir,
    env: buildEnv(ctx.ports.env, BASE_ENV_NAMES).env,
    limits: ctx.request.limits,
  });
  record.checks = r.checks;
  record.findings.push(...r.findings);
}

/**
 * The attempt's space on the shared view of its base commit, when the packet's writes are
 * confined to its output folder, the sandbox holds the view read-only and the run shares views;
 * null: the attempt gets a checkout of its own. The lease is kept in the context until the
 * attempt's folder is removed.
 */
async function openInView(
  ctx: AttemptContext,
  root: string,
  record: AttemptRecord,
): Promise<ViewSpace | null> {
  const { request, prep, git } = ctx;
  const views = ctx.ports.views;
  if (views === undefined || !ctx.sandbox.isolates) return null;
  const eligible = viewEligibility(request.packet);
  if (!eligible.eligible) return null;
  const lease = await views.acquire(git, prep.repo, request.base_commit);
  ctx.lease = lease;
  const space = await openViewSpace(git, lease, root, eligible.folder, prep.inputs);
  if (space === null) {
    record.notes.push(
      `the output folder ${eligible.folder}/ cannot be placed in the shared view (a file of the base commit is in the way): the attempt got a checkout of its own`,
    );
    return null;
  }
  record.notes.push(
    `ran in the shared read-only view of ${request.base_commit}: only the output folder ${eligible.folder}/ was writable`,
  );
  return space;
}

/**
 * Whether no process of the attempt can write the repository, so the snapshots before and after
 * (8 git processes) are left out: an attempt in the shared view (only with a sandbox that
 * isolates: openInView) whose every writable bind is inside its own folder. Inside bubblewrap the
 * host is bound read-only (`--ro-bind / /`); what a worker or check can write is its binds marked
 * writable (the output folder here; the hand-over folder and agent home, which jobIoDir and
 * withAgentHome also make under `root`) and the sandbox's private /tmp. `root` is a folder
 * mkdtemp just made in the worktree root, which prepareAttempt checked is outside the
 * repository, so no git folder of the repository (refs, config, hooks, index) is in it.
 * An attempt with a checkout of its own keeps the check: its checkout is writable and the check
 * is what tells a sandbox that held from one that did not (sandboxed-attempt.test.ts).
 */
function outOfReach(space: AttemptSpace): boolean {
  if (!isViewSpace(space)) return false;
  const inRoot = (p: string) => {
    const r = path.relative(space.root, p);
    return r !== "" && !r.startsWith("..") && !path.isAbsolute(r);
  };
  return space.binds.every((b) => !b.writable || inRoot(b.source));
}

/**
 * In the attempt's own folder: the checkout and inputs, the jobs run in the sandbox, DWM's commit
 * brought into the repository as the attempt's ref, the evidence, the checks; around it all, the
 * repository compared with its snapshot from before (refs, config, hooks, index flags) unless
 * nothing of the attempt can write it (outOfReach).
 */
async function workInSpace(ctx: AttemptContext, root: string, record: AttemptRecord): Promise<void> {
  const { request, prep, git } = ctx;
  const space =
    (await openInView(ctx, root, record)) ??
    (await openSpace(git, prep.repo, request.base_commit, root, prep.inputs, ctx.sandbox.isolates));
  // Opening a space writes nothing in the repository (its checkout and git folder are under `root`).
  const before = outOfReach(space) ? null : await snapshotRepository(git, prep.repo, DWM_REF_NAMESPACES);
  const viewBase: ViewBase = {
    objectDirs: space.checkout.objectDirs,
    inputsDir: space.inputsDir,
    // DWM's config folder (the operator's key) wherever DWM_CONFIG_DIR or XDG_CONFIG_HOME put it.
    hidden: hiddenPaths(prep.repo, prep.attemptDir, [
      dwmConfigDir(ctx.ports.env),
      ...operatorAgentState(ctx.ports.env),
      ...(ctx.ports.hidden ?? []),
    ]),
    home: ctx.ports.env.HOME,
    programs: pathBinds(buildEnv(ctx.ports.env, BASE_ENV_NAMES).env.PATH),
  };
  const staged = await runJobs(ctx, space, viewBase, record);
  const { tree } = staged;
  if (!isViewSpace(space)) {
    // A view's git folder is read-only to the worker: nothing of it to inspect.
    const soleWorker = prep.jobs.length === 1 ? (prep.jobs[0]?.workerId ?? null) : null;
    const inspected = await inspectWorkerGit(git, space, request.base_commit, soleWorker);
    record.findings.push(...inspected.findings);
    record.notes.push(...inspected.notes);
  }
  const packet = request.packet;
  const message = `dwm: ${packet.packet_id} attempt ${request.attempt}\n\nrun: ${request.run_id}\npacket: ${digest(packet)}\noutcome: ${record.outcome}\n`;
  const head = await commitWork(git, space, {
    tree,
    base: request.base_commit,
    baseTree: prep.baseTree,
    message,
    clock: ctx.ports.clock,
  });
  await importWork(git, prep.repo, space, { base: request.base_commit, head }, ctx.branch);
  record.headCommit = head;
  await collectEvidence(ctx, isViewSpace(space) ? space.outRoot : space.checkout.dir, head, staged, record);
  await checkTheWork(ctx, space, viewBase, head, record);
  if (before === null) return;
  const after = await snapshotRepository(git, prep.repo, DWM_REF_NAMESPACES);
  record.findings.push(
    ...compareRepositorySnapshots(before, after, {
      own: [qualifiedRef(ctx.branch)],
      ignorePrefixes: DWM_REF_NAMESPACES,
    }),
  );
}

/**
 * Run one attempt of one packet: a checkout of the base commit of its own (outside the
 * repository), each worker in order through its backend inside the OS sandbox, DWM's commit of
 * the work fetched into the repository as `refs/dwm/<run>/attempts/<packet>/<n>`, the diff, the declared
 * outputs, DWM's own checks in a clean checkout of that commit, enforcement and repository
 * findings; then the attempt's folder is removed (the ref keeps the work). Every evidence
 * file is written before attempt.json, which lists them all with their digests. Returns the
 * attempt (also written to `ports.attemptDir`).
 */
export async function runAttempt(request: AttemptRequest, ports: ExecutorPorts): Promise<Attempt> {
  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const prep = await prepareAttempt(request, git, ports);
  const startedAt = ports.clock.now();
  const t0 = ports.clock.monotonicMs();
  const branch = request.branch ?? attemptRef(request.run_id, request.packet.packet_id, request.attempt);
  const sandbox = ports.sandbox ?? noSandbox;
  const place = {
    worktree: NO_WORKTREE,
    ioDir: sandbox.isolates ? WORKER_IO_DIR : NO_IO_DIR,
    sandboxed: sandbox.isolates,
  };
  const planned = prep.jobs.map((job) => planJobInvocation(request, job, place, ports.env));
  const ctx: AttemptContext = {
    request,
    prep,
    ports,
    git,
    sandbox,
    branch,
    redactor: redactorFor(planned, ports.env),
  };
  const missing = missingProgram(planned)?.job;
  const record = emptyRecord();
  let root: string | null = null;
  try {
    if (missing !== undefined || prep.jobs.every((j) => j.binding.backend === "dry-run")) {
      recordNothingRun(ctx, record, missing);
    } else {
      root = reserveSpace(prep.worktreeRoot, spaceOwner(request.run_id));
      if (!sandbox.isolates) {
        record.notes.push(
          `no OS sandbox (${sandbox.name}): the workers and checks ran as the operator, with the operator's files, keys and git refs (lower assurance)`,
        );
      }
      await workInSpace(ctx, root, record);
    }
  } finally {
    removeSpace(root);
    ctx.lease?.release();
  }
  const sealed = sealEvidence(prep.attemptDir, ctx.redactor, record.copiedOutputs);
  record.notes.push(...sealed.notes);
  record.findings.push(...sealed.findings);
  const finishedAt = ports.clock.now();
  const durationMs = Math.max(0, Math.round(ports.clock.monotonicMs() - t0));
  const dryRun = prep.jobs.length > 0 && prep.jobs.every((j) => j.binding.backend === "dry-run");
  const where = { attemptDir: prep.attemptDir, branch, dryRun, sandbox: sandbox.name };
  // File names, findings, notes and messages come from the worker too: no secret value in any of them.
  const attempt = redactStrings(
    assembleAttempt(request, prep.inputs, where, record, { startedAt, finishedAt, durationMs }),
    ctx.redactor,
  );
  writeArtifact(path.join(prep.attemptDir, "attempt.json"), "attempt", attempt);
  return attempt;
}
