import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { type LoadedRun, loadRun } from "@dwm/compiler";
import { readJsonFile, signingErrors } from "@dwm/core";
import { createGit, createSharedViews, type GitPort, resolveBinding, type SharedViews } from "@dwm/executor";
import { planLimits } from "@dwm/scheduler";
import type { ResolvedBinding } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import { FanoutRun } from "../fanout.js";
import type { IntegrationPorts } from "../integration.js";
import type { DispatcherPorts, RunWorkflowOptions } from "./types.js";

/**
 * What a run is, read and checked before the lock is taken and never changed by the loop:
 * where it lives, what it starts from, its packets (compiled and fan-out items) and bindings.
 */
export interface RunSetup {
  /** The run directory, absolute. */
  readonly dir: string;
  readonly runId: string;
  /** The repository, absolute. */
  readonly repo: string;
  readonly baseCommit: string;
  /** The branch checked out in the repository now (null: a detached HEAD); a new journal records it. */
  readonly branch: string | null;
  readonly loaded: LoadedRun;
  /** The plan's own parallelism.concurrency_cap and budget.max_agents. */
  readonly limits: ReturnType<typeof planLimits>;
  /** The binding of every compiled packet; item packets get theirs from `fan`. */
  readonly bindingOf: ReadonlyMap<string, ResolvedBinding>;
  /** Compiled packets plus the fan-out item packets expanded so far (schema 0.6). */
  readonly fan: FanoutRun;
  readonly git: GitPort;
  readonly gitPorts: IntegrationPorts;
  readonly options: RunWorkflowOptions;
  readonly ports: DispatcherPorts;
  /** The run's shared read-only views (only with a sandbox that isolates): closed at run end. */
  readonly views?: SharedViews;
}

function invalidNumber(name: string, v: unknown, min: number) {
  return v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= min)
    ? dispatcherErrors.create("ERR_DISPATCH_OPTION_INVALID", `${name} must be a whole number ≥ ${min}`, {
        details: { [name]: v },
      })
    : null;
}

/** Refuse options the loop cannot use (ERR_DISPATCH_OPTION_INVALID), before anything is read. */
export function checkOptions(o: RunWorkflowOptions): void {
  const e =
    invalidNumber("concurrency", o.concurrency, 1) ??
    invalidNumber("maxAttempts", o.maxAttempts, 0) ??
    invalidNumber("tokenBudget", o.tokenBudget, 0);
  if (e) throw e;
  if (o.usdBudget !== undefined) {
    if (!(typeof o.usdBudget === "number" && Number.isFinite(o.usdBudget) && o.usdBudget >= 0)) {
      throw dispatcherErrors.create("ERR_DISPATCH_OPTION_INVALID", "usdBudget must be a number ≥ 0", {
        details: { usdBudget: o.usdBudget },
      });
    }
    if (typeof o.costOf !== "function") {
      throw dispatcherErrors.create(
        "ERR_DISPATCH_OPTION_INVALID",
        "usdBudget needs costOf, the price of an attempt",
        { details: { usdBudget: o.usdBudget } },
      );
    }
  }
  if (o.until !== undefined && o.until !== "gate" && o.until !== "complete") {
    throw dispatcherErrors.create("ERR_DISPATCH_OPTION_INVALID", `until must be gate or complete`, {
      details: { until: o.until },
    });
  }
}

/**
 * Read the compiled run and check that it can run here: it has a base commit, that commit is
 * in the repository, and every packet that may run has a binding (ERR_EXEC_NO_BINDING).
 * Nothing is journaled yet, so a refusal leaves the run as it was.
 */
export async function openRun(
  runDir: string,
  ports: DispatcherPorts,
  options: RunWorkflowOptions,
): Promise<RunSetup> {
  checkOptions(options);
  const { key, trust } = options.operator;
  if (!trust.has(key.keyId)) {
    throw signingErrors.create(
      "ERR_KEY_UNTRUSTED",
      `the operator key ${key.keyId} is not in the repository's dwm.operators.json: its approvals and attestations would not count`,
      { details: { key_id: key.keyId } },
    );
  }
  const dir = path.resolve(runDir);
  const loaded = loadRun(dir);
  const runId = loaded.run.run_id;
  const repo = path.resolve(options.repo);
  const baseCommit = loaded.run.base_commit;
  if (baseCommit === null) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_NO_REPOSITORY",
      `run ${runId} was compiled outside a git repository`,
      { details: { run_id: runId } },
    );
  }
  const limits = planLimits(readJsonFile(path.join(dir, "plan.json")));
  const bindingOf = new Map(
    [...loaded.packets].map(([id, p]) => [id, resolveBinding(options.bindings, options.bindingsDigest, p)]),
  );
  const fan = new FanoutRun(dir, loaded, options.bindings, options.bindingsDigest);
  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const baseOk = await git.run(repo, ["rev-parse", "--verify", "--quiet", `${baseCommit}^{commit}`]);
  if (baseOk.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `base commit ${baseCommit} of run ${runId} is not in ${repo}`,
      { details: { base_commit: baseCommit, repo } },
    );
  }
  const gitPorts: IntegrationPorts = { git, clock: ports.clock, repo };
  const branch = await checkedOutBranch(git, repo);
  return {
    dir,
    runId,
    repo,
    baseCommit,
    branch,
    loaded,
    limits,
    bindingOf,
    fan,
    git,
    gitPorts,
    options,
    ports,
    ...(ports.sandbox?.isolates ? { views: runViews(ports.worktreeRoot, runId) } : {}),
  };
}

/** The shared views of one run of this process: a folder of their own in the worktree root, made on first use. */
function runViews(worktreeRoot: string | undefined, runId: string): SharedViews {
  // Made on first use: a worktree root that is not usable is refused by the attempt (ERR_EXEC_WORKTREE_ROOT).
  const root = path.resolve(worktreeRoot ?? os.tmpdir());
  // Its owner marker lets the next runner of this run sweep what a crash left (run/recovery.ts).
  return createSharedViews(path.join(root, `dwm-views-${runId}-${randomBytes(4).toString("hex")}`), {
    runId,
  });
}

/** The branch HEAD names in `repo` (without refs/heads/), or null on a detached HEAD. */
async function checkedOutBranch(git: GitPort, repo: string): Promise<string | null> {
  const r = await git.run(repo, ["symbolic-ref", "--quiet", "HEAD"]);
  const ref = r.stdout.trim();
  return r.exitCode === 0 && ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null;
}
