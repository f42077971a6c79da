import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type Clock,
  checkRelativePath,
  type Digest,
  digest,
  digestBytes,
  isDwmError,
  isInside,
  type ProcessResult,
  type ProcessRunner,
  resolveInside,
  writeArtifact,
  writeFileAtomic,
} from "@dwm/core";
import {
  type Attempt,
  type AttemptFinding,
  type AttemptOutcome,
  type AttemptRequest,
  type ChangedFile,
  type CheckResult,
  type Invocation,
  type OutputRecord,
  type Packet,
  type TokenUsage,
  validateSchema,
  type WorkerBinding,
} from "@dwm/schemas";
import { executorErrors } from "./errors.js";
import {
  checkBinding,
  gatewayEnv,
  type InvocationPaths,
  type Permissions,
  type PlannedInvocation,
  planInvocation,
  recordArgv,
} from "./internal/backends.js";
import { planChecks } from "./internal/checks.js";
import { BACKEND_ENV_NAMES, BASE_ENV_NAMES, buildEnv, Redactor } from "./internal/env.js";
import { describeFiles, safeName, walkFiles, which } from "./internal/fs-evidence.js";
import { attemptBranch, createGit, type GitPort, gitOk } from "./internal/git.js";
import { looksLikePath, ownershipRule } from "./internal/ownership.js";
import {
  parseClaude,
  parseCodex,
  parseGeneric,
  sumTokens,
  type TranscriptInfo,
} from "./internal/transcripts.js";
import { executorVersion } from "./version.js";

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

/** Folder in the worktree where handoff inputs are copied; never part of the diff or the commit. */
export const INPUTS_DIR = ".dwm-inputs";

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_KILL_GRACE_MS = 5_000;
const DEFAULT_CHECK_TIMEOUT_MS = 10 * 60_000;
const EXCLUDE_INPUTS = `:(exclude)${INPUTS_DIR}`;
/** Identity of the commit DWM makes on the attempt branch. */
export const DWM_GIT_IDENTITY = { name: "DWM", email: "dwm@dwm.invalid" } as const;

/** Attempt outcomes that say something about the infrastructure, never about the work. */
export function isInfraOutcome(outcome: AttemptOutcome): boolean {
  return outcome !== "ok" && outcome !== "task-failed";
}

interface Job {
  index: number;
  workerId: string;
  role: string;
  binding: WorkerBinding;
  /** null for a packet's own `command` (no worker, no permissions to enforce). */
  permissions: Permissions | null;
  ownership: string[];
  dir: string;
}

function jobsOf(request: AttemptRequest): Job[] {
  const packet = request.packet;
  if (packet.command !== undefined) {
    const c = packet.command;
    const binding: WorkerBinding =
      "argv" in c
        ? {
            backend: "shell",
            argv: c.argv,
            ...(c.timeout_ms === undefined ? {} : { timeout_ms: c.timeout_ms }),
          }
        : {
            backend: "shell",
            shell: true,
            command: c.script,
            ...(c.timeout_ms === undefined ? {} : { timeout_ms: c.timeout_ms }),
          };
    return [
      {
        index: 1,
        workerId: "command",
        role: "command",
        binding,
        permissions: null,
        ownership: [],
        dir: "workers/1-command",
      },
    ];
  }
  return packet.workers.map((w, i) => {
    const binding = request.binding.workers[w.id] ?? request.binding.workers["*"];
    if (binding === undefined) {
      throw executorErrors.create(
        "ERR_EXEC_NO_BINDING",
        `no backend is bound to worker ${JSON.stringify(w.id)}`,
        {
          details: { worker_id: w.id, packet_id: packet.packet_id },
        },
      );
    }
    checkBinding(w.id, binding);
    return {
      index: i + 1,
      workerId: w.id,
      role: w.role,
      binding,
      permissions: w.tool_permissions,
      ownership: w.ownership,
      dir: `workers/${i + 1}-${safeName(w.id)}`,
    };
  });
}

function promptFor(request: AttemptRequest, job: Job, jobCount: number): string {
  let text = request.prompt.endsWith("\n") ? request.prompt : `${request.prompt}\n`;
  if (request.repair_context !== null) text += `\n${request.repair_context.replace(/\n*$/, "\n")}`;
  if (request.inputs.length > 0) {
    text += `\n## Handoff inputs\n\nDWM copied these into \`${INPUTS_DIR}/\` of the working directory (read them; do not edit or commit them):\n\n`;
    for (const i of request.inputs) text += `- \`${INPUTS_DIR}/${i.artifact}\` (${i.digest})\n`;
  }
  if (jobCount > 1) text += `\n## This invocation\n\nYou are worker \`${job.workerId}\` (${job.role}).\n`;
  return text;
}

/**
 * `git add -A` in the worktree (inputs excluded). A worker killed in the middle of its own git
 * command leaves index.lock behind; its process group is dead by now, so the lock is stale.
 */
async function stageAll(git: GitPort, wt: string, repo: string, notes: string[]): Promise<void> {
  const args = ["add", "-A", "--", ".", EXCLUDE_INPUTS];
  const r = await git.run(wt, args);
  if (r.exitCode === 0) return;
  const lock = /Unable to create '([^']+index\.lock)'/.exec(r.stderr)?.[1];
  if (
    lock !== undefined &&
    isInside(path.join(fs.realpathSync(repo), ".git"), fs.realpathSync(path.dirname(lock)))
  ) {
    fs.rmSync(lock, { force: true });
    notes.push("removed a stale index.lock a worker left in the worktree");
  }
  await gitOk(git, wt, args);
}

/** Git's internal date format, from the clock (whole seconds, UTC). */
function gitDate(iso: string): string {
  return `${Math.floor(Date.parse(iso) / 1000)} +0000`;
}

function classify(
  plan: PlannedInvocation,
  r: ProcessResult,
  t: TranscriptInfo | null,
): { outcome: AttemptOutcome; detail: string | null } {
  if (r.spawnError !== null)
    return { outcome: "backend-missing", detail: `${plan.argv[0]}: ${r.spawnError}` };
  if (r.timedOut) return { outcome: "timeout", detail: null };
  if (r.signal !== null) return { outcome: "crashed", detail: `killed by ${r.signal}` };
  if (t?.authError) return { outcome: "auth-failed", detail: t.authError };
  if (t?.rateLimit) return { outcome: "rate-limited", detail: t.rateLimit };
  if (r.exitCode === 0 && t?.resultError) return { outcome: "task-failed", detail: t.resultError };
  if (r.exitCode === 0) return { outcome: "ok", detail: null };
  return { outcome: "task-failed", detail: t?.resultError ?? null };
}

function notRun(
  job: Job,
  plan: PlannedInvocation,
  paths: InvocationPaths,
  why: string,
  redactor: Redactor,
): Invocation {
  return {
    worker_id: job.workerId,
    backend: job.binding.backend,
    argv: recordArgv(plan.argv, paths).map((a) => redactor.redactText(a)),
    stdin: plan.stdin,
    env_names: [],
    outcome: "not-run",
    exit_code: null,
    signal: null,
    timed_out: false,
    duration_ms: 0,
    prompt: `${job.dir}/prompt.md`,
    stdout: null,
    stderr: null,
    transcript: null,
    output_dir: null,
    tokens: null,
    detail: why,
  };
}

/**
 * Run one attempt of one packet: a git worktree on branch `dwm/<run>/<packet>/<n>` from the
 * base commit, each worker in order through its backend, DWM's commit of the work, the diff,
 * the declared outputs, DWM's own checks, enforcement findings; then the worktree is removed
 * (the branch keeps the work). Every evidence file is written before attempt.json, which lists
 * them all with their digests. Returns the attempt (also written to `ports.attemptDir`).
 */
export async function runAttempt(request: AttemptRequest, ports: ExecutorPorts): Promise<Attempt> {
  const valid = validateSchema("attempt-request", request);
  if (!valid.ok) {
    throw executorErrors.create("ERR_EXEC_REQUEST_INVALID", "the attempt request does not match its schema", {
      details: { problems: valid.problems.slice(0, 20) },
    });
  }
  const packet: Packet = request.packet;
  const jobs = jobsOf(request);
  const inputs = request.inputs.map((i) => {
    const artifact = checkRelativePath(i.artifact, "handoff input");
    const content = Buffer.from(i.content_base64, "base64");
    const actual = digestBytes(content);
    if (actual !== i.digest) {
      throw executorErrors.create(
        "ERR_EXEC_INPUT_DIGEST",
        `handoff input ${artifact} has digest ${actual}, expected ${i.digest}`,
        {
          details: { artifact, expected: i.digest, actual },
        },
      );
    }
    return { artifact, digest: i.digest as Digest, content };
  });

  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const repo = path.resolve(request.repo);
  const attemptDir = path.resolve(ports.attemptDir);
  if (fs.existsSync(path.join(attemptDir, "attempt.json"))) {
    throw executorErrors.create("ERR_EXEC_ATTEMPT_EXISTS", `${attemptDir} already holds attempt.json`, {
      details: { attempt: request.attempt, packet_id: packet.packet_id },
    });
  }
  const dryRun = jobs.length > 0 && jobs.every((j) => j.binding.backend === "dry-run");

  // The repository and base commit are checked before anything is written: one git call when
  // both are fine (the top level, then the base commit's tree), a second one to tell which is not.
  const checked = await git.run(repo, [
    "rev-parse",
    "--show-toplevel",
    "--verify",
    "--quiet",
    `${request.base_commit}^{commit}^{tree}`,
  ]);
  const [topLevel = "", baseTree = ""] = checked.exitCode === 0 ? checked.stdout.trim().split("\n") : [];
  if (checked.exitCode !== 0 && (await git.run(repo, ["rev-parse", "--show-toplevel"])).exitCode !== 0) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${repo} is not a git repository`, {
      details: { repo },
    });
  }
  if (checked.exitCode !== 0 || topLevel === "" || baseTree === "") {
    throw executorErrors.create(
      "ERR_EXEC_BASE_COMMIT",
      `base commit ${request.base_commit} is not in ${repo}`,
      {
        details: { base_commit: request.base_commit },
      },
    );
  }
  const worktreeRoot = fs.realpathSync(ports.worktreeRoot ?? os.tmpdir());
  if (isInside(fs.realpathSync(topLevel), worktreeRoot)) {
    throw executorErrors.create(
      "ERR_EXEC_WORKTREE_ROOT",
      `worktree root ${worktreeRoot} is inside the repository`,
      {
        details: { worktree_root: worktreeRoot },
      },
    );
  }

  // An attempt dir without attempt.json is what a crash mid-attempt leaves: start it afresh.
  fs.rmSync(attemptDir, { recursive: true, force: true });
  fs.mkdirSync(attemptDir, { recursive: true });

  const startedAt = ports.clock.now();
  const t0 = ports.clock.monotonicMs();
  const limits = request.limits;
  const redactor = new Redactor();
  const notes: string[] = [];
  const findings: AttemptFinding[] = [];
  const invocations: Invocation[] = [];
  const envNames = new Set<string>();
  const branch = request.branch ?? attemptBranch(request.run_id, packet.packet_id, request.attempt);
  const needsWorktree = jobs.some((j) => j.binding.backend !== "dry-run");

  // Secrets DWM could hand to any worker are known up front, so every file can be redacted.
  const jobEnv = (job: Job, paths: InvocationPaths, plan: PlannedInvocation) => {
    const gateway = gatewayEnv(job.binding, ports.env);
    const names = [
      ...BASE_ENV_NAMES,
      ...BACKEND_ENV_NAMES[job.binding.backend],
      ...gateway.names,
      ...(job.binding.pass_env ?? []),
    ];
    const dwm: Record<string, string> = {
      DWM_RUN_ID: request.run_id,
      DWM_PACKET_ID: packet.packet_id,
      DWM_ATTEMPT: String(request.attempt),
      DWM_WORKER_ID: job.workerId,
      DWM_PROMPT_FILE: paths.promptFile,
      DWM_WORKTREE: paths.worktree,
      DWM_INPUTS_DIR: path.join(paths.worktree, INPUTS_DIR),
      ...(plan.usesOutputDir || job.binding.backend === "command" ? { DWM_OUTPUT_DIR: paths.outputDir } : {}),
    };
    const literal = {
      ...gateway.literal,
      ...Object.fromEntries(
        Object.entries(job.binding.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
      ),
    };
    return buildEnv(ports.env, names, literal, dwm);
  };
  const pathsFor = (job: Job, worktree: string): InvocationPaths => ({
    worktree,
    promptFile: path.join(attemptDir, job.dir, "prompt.md"),
    outputDir: path.join(attemptDir, job.dir, "out"),
    lastMessageFile: path.join(attemptDir, job.dir, "last-message.md"),
    attemptDir,
  });
  for (const job of jobs) {
    const paths = pathsFor(job, "/nonexistent");
    redactor.add(
      jobEnv(job, paths, planInvocation(job.binding, job.permissions ?? noPerms, paths)).env,
      job.binding.api_key_env === undefined ? [] : [job.binding.api_key_env],
    );
  }
  // And DWM's own secret-looking variables: a worker can read its ancestors' environment
  // (/proc/<pid>/environ) even though the allow-list never gave it them.
  redactor.add(
    Object.fromEntries(Object.entries(ports.env).filter((e): e is [string, string] => e[1] !== undefined)),
  );

  // Programs looked up on the PATH the workers will get: a missing one stops the attempt before any worktree.
  let missing: Job | undefined;
  for (const job of jobs) {
    if (job.binding.backend === "dry-run") continue;
    const paths = pathsFor(job, "/nonexistent");
    const plan = planInvocation(job.binding, job.permissions ?? noPerms, paths);
    const program = plan.argv[0] ?? "";
    if (!program.includes("/") && which(program, jobEnv(job, paths, plan).env.PATH) === null) {
      missing = job;
      break;
    }
  }

  let worktree: string | null = null;
  let tmpParent: string | null = null;
  let headCommit: string | null = null;
  let changed: ChangedFile[] = [];
  let diffPath: string | null = null;
  const outputs: OutputRecord[] = [];
  const checks: CheckResult[] = [];
  const copiedOutputs: { record: OutputRecord; rel: string }[] = [];
  let outcome: AttemptOutcome = "ok";
  let lastRun: Invocation | null = null;
  let retryAfterMs: number | null = null;

  const writePrompt = (job: Job) => {
    const file = path.join(attemptDir, job.dir, "prompt.md");
    writeFileAtomic(file, promptFor(request, job, jobs.length));
  };

  try {
    if (missing !== undefined || !needsWorktree) {
      for (const job of jobs) {
        writePrompt(job);
        const paths = pathsFor(job, "/nonexistent");
        const plan = planInvocation(job.binding, job.permissions ?? noPerms, paths);
        if (job === missing) {
          outcome = "backend-missing";
          invocations.push({
            ...notRun(job, plan, paths, `${plan.argv[0]} is not on PATH`, redactor),
            outcome: "backend-missing",
          });
        } else {
          invocations.push(
            notRun(
              job,
              plan,
              paths,
              job.binding.backend === "dry-run"
                ? "dry run: nothing was started"
                : "the attempt stopped before this worker",
              redactor,
            ),
          );
        }
      }
      if (missing !== undefined) notes.push("no worktree was made: a backend program is missing");
    } else {
      tmpParent = fs.mkdtempSync(path.join(worktreeRoot, "dwm-wt-"));
      worktree = path.join(tmpParent, "wt");
      const wt = worktree;
      await git.admin(repo, async () => {
        const add = ["worktree", "add", "--quiet", "-B", branch, wt, request.base_commit];
        if ((await git.run(repo, add)).exitCode === 0) return;
        // A worktree record whose folder is gone (a crashed attempt) can hold the branch: prune, retry once.
        await gitOk(git, repo, ["worktree", "prune"]);
        await gitOk(git, repo, add);
      });
      for (const input of inputs) {
        const dest = resolveInside(wt, `${INPUTS_DIR}/${input.artifact}`, "handoff input");
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.writeFileSync(dest, input.content);
      }
      let prevTree = baseTree;
      const touchedBy = new Map<string, Set<string>>();

      for (const job of jobs) {
        writePrompt(job);
        const paths = pathsFor(job, wt);
        const plan = planInvocation(job.binding, job.permissions ?? noPerms, paths);
        if (outcome !== "ok" || job.binding.backend === "dry-run") {
          invocations.push(
            notRun(
              job,
              plan,
              paths,
              job.binding.backend === "dry-run"
                ? "dry run: nothing was started"
                : "an earlier invocation did not end ok",
              redactor,
            ),
          );
          continue;
        }
        const { env, names } = jobEnv(job, paths, plan);
        for (const n of names) envNames.add(n);
        const dir = path.join(attemptDir, job.dir);
        if (plan.usesOutputDir || job.binding.backend === "command")
          fs.mkdirSync(paths.outputDir, { recursive: true });
        const stdoutFile = path.join(dir, "stdout");
        const stderrFile = path.join(dir, "stderr");
        const r = await ports.processRunner.run({
          argv: plan.argv,
          cwd: wt,
          env,
          stdin: plan.stdin === "prompt" ? promptFor(request, job, jobs.length) : undefined,
          stdoutFile,
          stderrFile,
          timeoutMs: job.binding.timeout_ms ?? limits.timeout_ms ?? DEFAULT_TIMEOUT_MS,
          killGraceMs: limits.kill_grace_ms ?? DEFAULT_KILL_GRACE_MS,
        });
        for (const f of [stdoutFile, stderrFile]) if (!fs.existsSync(f)) fs.writeFileSync(f, "");
        let t: TranscriptInfo | null = null;
        let transcript: string | null = null;
        if (plan.transcript !== "none") {
          const out = fs.readFileSync(stdoutFile, "utf8");
          t =
            plan.transcript === "codex"
              ? parseCodex(out)
              : plan.transcript === "claude"
                ? parseClaude(out)
                : parseGeneric(out);
          transcript = `${job.dir}/transcript.jsonl`;
          writeFileAtomic(path.join(attemptDir, transcript), t.jsonLines.map((l) => `${l}\n`).join(""));
          if (t.otherLines > 0)
            notes.push(`${job.workerId}: ${t.otherLines} line(s) of stdout are not JSON events`);
        }
        const c = classify(plan, r, t);
        const inv: Invocation = {
          worker_id: job.workerId,
          backend: job.binding.backend,
          argv: recordArgv(plan.argv, paths).map((a) => redactor.redactText(a)),
          stdin: plan.stdin,
          env_names: names,
          outcome: c.outcome,
          exit_code: r.exitCode,
          signal: r.signal,
          timed_out: r.timedOut,
          duration_ms: Math.max(0, Math.round(r.durationMs)),
          prompt: `${job.dir}/prompt.md`,
          stdout: `${job.dir}/stdout`,
          stderr: `${job.dir}/stderr`,
          transcript,
          output_dir: plan.usesOutputDir || job.binding.backend === "command" ? `${job.dir}/out` : null,
          tokens: t?.tokens ?? null,
          detail: c.detail === null ? null : redactor.redactText(c.detail).slice(0, 2000),
        };
        invocations.push(inv);
        lastRun = inv;
        if (c.outcome !== "ok") outcome = c.outcome;
        if (c.outcome === "rate-limited") retryAfterMs = t?.retryAfterMs ?? null;

        // Stage everything the invocation left (inputs excluded) and attribute the changed paths to it.
        await stageAll(git, wt, repo, notes);
        const tree = (await gitOk(git, wt, ["write-tree"])).trim();
        if (tree !== prevTree) {
          const out = await gitOk(git, wt, [
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-only",
            prevTree,
            tree,
          ]);
          for (const p of out.split("\0").filter((s) => s !== "")) {
            const set = touchedBy.get(p) ?? new Set<string>();
            set.add(job.workerId);
            touchedBy.set(p, set);
          }
          prevTree = tree;
        }
      }

      // DWM commits the work itself, with a fixed identity and the clock's date, so the branch holds it.
      const [headNow = "", headTree = "", branchTip = ""] = (
        await gitOk(git, wt, ["rev-parse", "HEAD", "HEAD^{tree}", `refs/heads/${branch}`])
      ).split("\n");
      headCommit = headNow;
      if (prevTree !== headTree) {
        const date = gitDate(ports.clock.now());
        const message = `dwm: ${packet.packet_id} attempt ${request.attempt}\n\nrun: ${request.run_id}\npacket: ${digest(packet)}\noutcome: ${outcome}\n`;
        headCommit = (
          await gitOk(git, wt, ["commit-tree", prevTree, "-p", headNow, "-m", message], {
            env: {
              GIT_AUTHOR_NAME: DWM_GIT_IDENTITY.name,
              GIT_AUTHOR_EMAIL: DWM_GIT_IDENTITY.email,
              GIT_AUTHOR_DATE: date,
              GIT_COMMITTER_NAME: DWM_GIT_IDENTITY.name,
              GIT_COMMITTER_EMAIL: DWM_GIT_IDENTITY.email,
              GIT_COMMITTER_DATE: date,
            },
          })
        ).trim();
      }
      if (headCommit !== branchTip) await gitOk(git, wt, ["update-ref", `refs/heads/${branch}`, headCommit]);

      diffPath = "diff.patch";
      // Nothing committed on top of the base (a no-op or read-only attempt): the diff is empty.
      const unchanged = headCommit === request.base_commit;
      if (unchanged) fs.writeFileSync(path.join(attemptDir, diffPath), "");
      else
        await gitOk(
          git,
          wt,
          [
            "diff",
            "--binary",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "--full-index",
            request.base_commit,
            headCommit,
            "--",
            ".",
            EXCLUDE_INPUTS,
          ],
          { stdoutFile: path.join(attemptDir, diffPath) },
        );
      const ns = unchanged
        ? []
        : (
            await gitOk(git, wt, [
              "diff",
              "--name-status",
              "-z",
              "--no-renames",
              request.base_commit,
              headCommit,
              "--",
              ".",
              EXCLUDE_INPUTS,
            ])
          ).split("\0");
      const statusName: Record<string, ChangedFile["status"]> = {
        A: "added",
        M: "modified",
        D: "deleted",
        T: "type-changed",
      };
      for (let i = 0; i + 1 < ns.length; i += 2) {
        const s = ns[i] ?? "";
        const p = ns[i + 1] ?? "";
        if (p === "") continue;
        changed.push({
          path: p,
          status: statusName[s[0] ?? ""] ?? "modified",
          workers: [...(touchedBy.get(p) ?? [])].sort(),
        });
      }
      changed = changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

      // Declared outputs: copied into the evidence with their bytes; missing ones are findings.
      const declared = new Set<string>();
      for (const o of packet.outputs) {
        if (!looksLikePath(o.artifact)) {
          outputs.push({
            artifact: o.artifact,
            checked: false,
            found: false,
            path: null,
            digest: null,
            bytes: null,
          });
          notes.push(`output ${JSON.stringify(o.artifact)} is prose, not a path: not looked for`);
          continue;
        }
        let src: string;
        try {
          // A declared output is the packet's own path: never an ownership question, even when unusable.
          declared.add(checkRelativePath(o.artifact, "declared output"));
          src = resolveInside(wt, o.artifact, "declared output");
        } catch (e) {
          if (!isDwmError(e)) throw e;
          outputs.push({
            artifact: o.artifact,
            checked: true,
            found: false,
            path: null,
            digest: null,
            bytes: null,
          });
          findings.push({
            code: "output-missing",
            message: `declared output ${o.artifact} cannot be read: ${e.message}`,
            worker_id: null,
            paths: [o.artifact],
          });
          continue;
        }
        const st = fs.statSync(src, { throwIfNoEntry: false });
        if (st?.isFile()) {
          const rel = `outputs/${checkRelativePath(o.artifact)}`;
          const dest = path.join(attemptDir, rel);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          fs.copyFileSync(src, dest);
          const record: OutputRecord = {
            artifact: o.artifact,
            checked: true,
            found: true,
            path: rel,
            digest: null,
            bytes: null,
          };
          outputs.push(record);
          copiedOutputs.push({ record, rel });
        } else if (st?.isDirectory()) {
          outputs.push({
            artifact: o.artifact,
            checked: true,
            found: true,
            path: null,
            digest: null,
            bytes: null,
          });
          notes.push(`output ${o.artifact} is a directory: its files are in diff.patch`);
        } else {
          outputs.push({
            artifact: o.artifact,
            checked: true,
            found: false,
            path: null,
            digest: null,
            bytes: null,
          });
          findings.push({
            code: "output-missing",
            message: `declared output ${o.artifact} was not produced`,
            worker_id: null,
            paths: [o.artifact],
          });
        }
      }

      // Enforcement: read-only workers change nothing but declared outputs; writers stay in their ownership.
      for (const job of jobs) {
        if (job.permissions === null) continue;
        const mine = changed
          .filter((c) => c.workers.includes(job.workerId) && !declared.has(c.path))
          .map((c) => c.path);
        if (!job.permissions.write) {
          if (mine.length > 0) {
            findings.push({
              code: "read-only-violation",
              message: `read-only worker ${job.workerId} changed ${mine.length} file(s)`,
              worker_id: job.workerId,
              paths: mine,
            });
          }
          continue;
        }
        const rule = ownershipRule(job.ownership);
        if (rule.globs.length === 0) {
          notes.push(
            `worker ${job.workerId} may write and its ownership names no paths (${rule.prose.map((p) => JSON.stringify(p)).join(", ") || "none"}): its changes are not restricted`,
          );
          continue;
        }
        const outside = mine.filter((p) => !rule.allows(p));
        if (outside.length > 0) {
          findings.push({
            code: "ownership-violation",
            message: `worker ${job.workerId} changed ${outside.length} file(s) outside its ownership (${rule.globs.join(", ")})`,
            worker_id: job.workerId,
            paths: outside,
          });
        }
      }

      // DWM's own checks, after the work is committed, only on work that ended ok.
      const planned = planChecks(packet);
      if (outcome === "ok") {
        const { env } = buildEnv(ports.env, BASE_ENV_NAMES);
        for (const c of planned) {
          const out = `checks/${c.id}.stdout`;
          const err = `checks/${c.id}.stderr`;
          fs.mkdirSync(path.join(attemptDir, "checks"), { recursive: true });
          const argv = ["sh", "-c", c.command];
          const r = await ports.processRunner.run({
            argv,
            cwd: wt,
            env,
            stdoutFile: path.join(attemptDir, out),
            stderrFile: path.join(attemptDir, err),
            timeoutMs: limits.check_timeout_ms ?? DEFAULT_CHECK_TIMEOUT_MS,
            killGraceMs: limits.kill_grace_ms ?? DEFAULT_KILL_GRACE_MS,
          });
          for (const f of [out, err])
            if (!fs.existsSync(path.join(attemptDir, f))) fs.writeFileSync(path.join(attemptDir, f), "");
          checks.push({
            id: c.id,
            kind: c.kind,
            source: c.source,
            command: c.command,
            argv,
            exit_code: r.exitCode,
            signal: r.signal,
            timed_out: r.timedOut,
            duration_ms: Math.max(0, Math.round(r.durationMs)),
            stdout: out,
            stderr: err,
            passed: r.exitCode === 0 && !r.timedOut && r.spawnError === null,
          });
        }
      } else if (planned.length > 0) {
        notes.push(`${planned.length} check(s) not run: the work did not end ok`);
      }
    }
  } finally {
    if (worktree !== null) {
      const wt = worktree;
      await git
        .admin(repo, async () => {
          const r = await git.run(repo, ["worktree", "remove", "--force", wt]);
          if (r.exitCode !== 0) {
            fs.rmSync(wt, { recursive: true, force: true });
            await git.run(repo, ["worktree", "prune"]);
          }
        })
        .catch(() => undefined);
    }
    if (tmpParent !== null) fs.rmSync(tmpParent, { recursive: true, force: true });
  }

  // Redact every evidence file before it is hashed; a secret in the work itself is a finding.
  const { files: evidence, removedLinks } = walkFiles(attemptDir);
  for (const l of removedLinks) notes.push(`symbolic link ${l} removed from the evidence`);
  const leaked = new Map<string, string[]>();
  for (const rel of evidence) {
    const file = path.join(attemptDir, rel);
    const r = redactor.redact(fs.readFileSync(file));
    if (r.hits.length === 0) continue;
    writeFileAtomic(file, r.data);
    if (rel === "diff.patch" || rel.startsWith("outputs/")) {
      for (const h of r.hits) leaked.set(h, [...(leaked.get(h) ?? []), rel]);
    } else {
      notes.push(`value of ${r.hits.join(", ")} redacted from ${rel}`);
    }
  }
  for (const [name, where] of leaked) {
    findings.push({
      code: "secret-in-work",
      message: `the value of ${name} appears in the work (redacted from the evidence; the attempt branch holds it as written)`,
      worker_id: null,
      paths: where,
    });
  }
  for (const { record, rel } of copiedOutputs) {
    const data = fs.readFileSync(path.join(attemptDir, rel));
    record.digest = digestBytes(data);
    record.bytes = data.length;
  }

  const finished = ports.clock.now();
  const last = lastRun as Invocation | null;
  const attempt: Attempt = {
    kind: "attempt",
    schema_version: "1",
    executor_version: executorVersion(),
    run_id: request.run_id,
    packet_id: packet.packet_id,
    packet_digest: digest(packet),
    prompt_digest: digestBytes(request.prompt),
    attempt: request.attempt,
    binding_digest: request.binding.bindings_digest,
    base_commit: request.base_commit,
    branch: headCommit === null ? null : branch,
    head_commit: headCommit,
    started_at: startedAt,
    finished_at: finished,
    duration_ms: Math.max(0, Math.round(ports.clock.monotonicMs() - t0)),
    outcome,
    exit_code: last?.exit_code ?? null,
    signal: last?.signal ?? null,
    dry_run: dryRun,
    repair_context_digest: request.repair_context === null ? null : digestBytes(request.repair_context),
    env_names: [...envNames].sort(),
    inputs: inputs.map((i) => ({
      artifact: i.artifact,
      digest: i.digest,
      path: `${INPUTS_DIR}/${i.artifact}`,
    })),
    invocations,
    changed_files: changed,
    diff: diffPath,
    outputs,
    checks,
    findings,
    notes,
    ...(retryAfterMs === null ? {} : { retry_after_ms: retryAfterMs }),
    tokens: sumTokens(invocations.map((i): TokenUsage | null => i.tokens)),
    files: describeFiles(attemptDir, walkFiles(attemptDir).files),
  };
  writeArtifact(path.join(attemptDir, "attempt.json"), "attempt", attempt);
  return attempt;
}

const noPerms: Permissions = { write: false, shell: false, network: false };
