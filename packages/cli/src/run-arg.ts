import fs from "node:fs";
import path from "node:path";
import type { CommandContext, OptionSpec, ParsedArgs } from "./command.js";
import { cliErrors } from "./errors.js";

/** The `--store DIR` option of every command that takes `[run]`. */
export const storeOption: Record<string, OptionSpec> = {
  store: {
    type: "string",
    description: "Run store, relative to the repository root (default .dwm/runs).",
    values: "file",
  },
};

export interface ResolvedRun {
  runDir: string;
  runId: string;
  storeDir: string;
  /** How to name this run in a suggested command: `<run_id>`, plus ` --store DIR` when one was given. */
  ref: string;
}

/** The nearest directory at or above `from` holding `.git` (a repository or worktree), else `from`. */
export function repoRoot(from: string): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, ".git"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(from);
    dir = up;
  }
}

/** A run directory is one holding a run.json file (what the compiler writes last, so a half-written run has none). */
export function isRunDir(dir: string): boolean {
  try {
    return fs.statSync(path.join(dir, "run.json")).isFile();
  } catch {
    return false;
  }
}

/** Run ids in a store: its sub-directories that hold a run.json, sorted. */
export function listRuns(storeDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(storeDir);
  } catch {
    return [];
  }
  return names.filter((n) => isRunDir(path.join(storeDir, n))).sort();
}

/** What only a run directory holds besides run.json: a folder with one of these and no run.json lost it. */
const RUN_TRACES = [".dwm-run", "journal.jsonl", "journal.head", "packets"];

/** Run directories of a store that lost their run.json (tampering, never a state DWM leaves). */
export function damagedRuns(storeDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(storeDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith(".") && !isRunDir(path.join(storeDir, n)))
    .filter((n) => RUN_TRACES.some((t) => fs.existsSync(path.join(storeDir, n, t))))
    .sort();
}

function damagedRun(storeDir: string, runs: string[]): never {
  throw cliErrors.create(
    "ERR_CLI_RUN_DAMAGED",
    `run ${runs.join(", ")} in ${storeDir} has no run.json, but holds a run's files`,
    { details: { store: storeDir, runs, missing: "run.json" } },
  );
}

function lastActivity(runDir: string): number {
  for (const f of ["journal.jsonl", "run.json"]) {
    try {
      return fs.statSync(path.join(runDir, f)).mtimeMs;
    } catch {
      // try the next
    }
  }
  return 0;
}

/**
 * Resolve a command's `[run]`: a run id in the store, or a path to a run directory;
 * without one, the store's only run, or the one whose journal (else run.json)
 * changed last. The store is `--store DIR` (relative to the repository root) or
 * `<repo>/.dwm/runs`.
 */
export function resolveRun(args: ParsedArgs, ctx: CommandContext): ResolvedRun {
  const root = repoRoot(ctx.cwd);
  const store = typeof args.values.store === "string" ? args.values.store : undefined;
  const storeDir = store === undefined ? path.join(root, ".dwm", "runs") : path.resolve(root, store);
  const suffix = store === undefined ? "" : ` --store ${store}`;
  const given = args.positionals[0];
  const available = listRuns(storeDir);
  if (given !== undefined) {
    const inStore = path.join(storeDir, given);
    if (!given.includes("/") && !given.startsWith(".") && isRunDir(inStore)) {
      return { runDir: inStore, runId: given, storeDir, ref: `${given}${suffix}` };
    }
    const asPath = path.resolve(ctx.cwd, given);
    if (isRunDir(asPath)) {
      return { runDir: asPath, runId: path.basename(asPath), storeDir: path.dirname(asPath), ref: given };
    }
    if (!given.includes("/") && damagedRuns(storeDir).includes(given)) damagedRun(storeDir, [given]);
    throw cliErrors.create("ERR_CLI_RUN_NOT_FOUND", `no run ${JSON.stringify(given)} in ${storeDir}`, {
      details: { run: given, store: storeDir, available },
    });
  }
  if (available.length === 0) {
    const damaged = damagedRuns(storeDir);
    if (damaged.length > 0) damagedRun(storeDir, damaged);
    throw cliErrors.create("ERR_CLI_NO_RUNS", `no run in ${storeDir}`, { details: { store: storeDir } });
  }
  const runId =
    available.length === 1
      ? (available[0] as string)
      : ([...available].sort(
          (a, b) =>
            lastActivity(path.join(storeDir, b)) - lastActivity(path.join(storeDir, a)) || (a < b ? -1 : 1),
        )[0] as string);
  return { runDir: path.join(storeDir, runId), runId, storeDir, ref: `${runId}${suffix}` };
}
