import fs from "node:fs";
import path from "node:path";
import type { ProcessRunner } from "@dwm/core";
import { executorErrors } from "../errors.js";

export interface GitResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface GitRunOptions {
  /** Extra variables on top of the git environment (identity, dates). */
  env?: Record<string, string>;
  /** Write stdout to this file instead of returning it (large diffs). */
  stdoutFile?: string;
  /** Text written to git's stdin (`--stdin` lists), or bytes (a pack). */
  stdin?: string | Uint8Array;
}

/**
 * The executor's view of git. `run` is for commands local to one worktree or
 * read-only on the repository; `admin` serializes worktree administration
 * (add, remove, prune) per repository, because concurrent `git worktree add`
 * on one repository races (`../shared/notes/git-worktrees.md`).
 */
export interface GitPort {
  run(cwd: string, args: readonly string[], options?: GitRunOptions): Promise<GitResult>;
  admin<T>(repo: string, fn: () => Promise<T>): Promise<T>;
}

// One queue per repository for the whole process, shared by every GitPort, so two
// attempts with separately built ports still never run worktree admin at once.
const queues = new Map<string, Promise<unknown>>();

function queueKey(repo: string): string {
  try {
    return fs.realpathSync(repo);
  } catch {
    return path.resolve(repo);
  }
}

/** Run `fn` after every admin operation queued before it on the same repository. */
export function serializePerRepo<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  const key = queueKey(repo);
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** A GitPort over a ProcessRunner. Git gets PATH and HOME only, English messages, no prompts. */
export function createGit(
  runner: ProcessRunner,
  sourceEnv: Readonly<Record<string, string | undefined>>,
): GitPort {
  const base: Record<string, string> = {
    PATH: sourceEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: "C",
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
  };
  if (sourceEnv.HOME !== undefined) base.HOME = sourceEnv.HOME;
  return {
    async run(cwd, args, options = {}) {
      const r = await runner.run({
        argv: ["git", ...args],
        cwd,
        env: { ...base, ...(options.env ?? {}) },
        stdoutFile: options.stdoutFile,
        stdin: options.stdin,
        timeoutMs: 600_000,
      });
      if (r.spawnError !== null) {
        throw executorErrors.create("ERR_EXEC_GIT_FAILED", `git could not be started: ${r.spawnError}`, {
          details: { args: [...args] },
        });
      }
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    },
    admin: serializePerRepo,
  };
}

/** Run git and throw ERR_EXEC_GIT_FAILED unless it exits 0; returns stdout. */
export async function gitOk(
  git: GitPort,
  cwd: string,
  args: readonly string[],
  options: GitRunOptions = {},
): Promise<string> {
  const r = await git.run(cwd, args, options);
  if (r.exitCode !== 0) {
    throw executorErrors.create(
      "ERR_EXEC_GIT_FAILED",
      `git ${args.slice(0, 3).join(" ")} failed (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
      { details: { args: [...args], exit_code: r.exitCode, stderr: r.stderr.slice(-2000) } },
    );
  }
  return r.stdout;
}
