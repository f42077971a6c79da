import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandContext, ParsedArgs } from "../../command.js";
import { isRunDir, repoRoot, resolveRun } from "../../run-arg.js";
import { liveHolder } from "../lock-holder.js";
import { mcpErrors } from "./errors.js";

/** The run the run tool works on: where it is, and what to pass `dwm run` for it. */
interface LaunchTarget {
  runId: string;
  runDir: string;
  root: string;
  /** `dwm run`'s positional: the plan (its bindings and policy are looked for beside it) or the run. */
  positional: string | null;
  /**
   * How many leases the runner takes before it runs: 2 when it recompiles a run that has a
   * journal first (that compile journals a lease of its own and lets go), else 1.
   */
  leases: number;
}

/** How the launcher starts `dwm`, how long it waits for the runner to take the run, and how often it looks. */
export interface LauncherOptions {
  /** argv before `run ...`; default: this Node and the dwm bin beside this module. */
  dwm?: string[];
  waitMs?: number;
  pollMs?: number;
}

/**
 * The built `dwm` bin: the bundle beside this module (when it runs bundled) or in dist/ two levels
 * up (dist/internal/mcp), else the package's dist/ when running from src/ (tests).
 */
export function dwmBin(): string {
  for (const rel of [
    "./dwm.cjs",
    "../../dwm.cjs",
    "../../../dist/dwm.cjs",
    "../../bin.js",
    "../../../dist/bin.js",
  ]) {
    const f = fileURLToPath(new URL(rel, import.meta.url));
    if (fs.existsSync(f)) return f;
  }
  throw new Error("the dwm bin is not built (pnpm build)");
}

/** Resolve the run tool's target as `dwm run` would: a plan file (its run located without compiling), a run directory, or a run in the store. */
async function targetOf(args: Record<string, unknown>, ctx: CommandContext): Promise<LaunchTarget> {
  const given = typeof args.target === "string" ? args.target : undefined;
  const store = typeof args.store === "string" ? args.store : undefined;
  const asPath = given === undefined ? null : path.resolve(ctx.cwd, given);
  if (asPath !== null && fs.existsSync(asPath) && fs.statSync(asPath).isFile()) {
    const [{ loadPlanFile }, { locateRun }] = await Promise.all([
      import("@dwm/plan-evaluator"),
      import("@dwm/compiler"),
    ]);
    const { plan } = loadPlanFile(asPath);
    const root = fs.realpathSync(repoRoot(path.dirname(asPath)));
    const at = locateRun(plan, { repoRoot: root, storeDir: store });
    const leases = fs.existsSync(path.join(at.runDir, "journal.jsonl")) ? 2 : 1;
    return { runId: at.runId, runDir: at.runDir, root, positional: asPath, leases };
  }
  if (asPath !== null && isRunDir(asPath)) {
    return {
      runId: path.basename(asPath),
      runDir: asPath,
      root: repoRoot(asPath),
      positional: asPath,
      leases: 1,
    };
  }
  const parsed: ParsedArgs = {
    positionals: given === undefined ? [] : [given],
    values: store === undefined ? {} : { store },
    json: true,
  };
  const r = resolveRun(parsed, ctx);
  return { runId: r.runId, runDir: r.runDir, root: repoRoot(r.runDir), positional: r.runId, leases: 1 };
}

/**
 * `dwm run`'s options from the tool's arguments. Gates are a person's to decide: never --approve,
 * and always --no-policy (a policy file is one an agent could have written, beside its plan or
 * anywhere in the repository).
 */
export function runArgv(args: Record<string, unknown>, positional: string | null): string[] {
  const argv = ["run", ...(positional === null ? [] : [positional]), "--ndjson", "--no-policy"];
  const opt = (flag: string, v: unknown) => {
    if (v !== undefined) argv.push(`--${flag}`, String(v));
  };
  opt("store", args.store);
  opt("backend", args.backend);
  opt("workers", args.workers);
  opt("concurrency", args.concurrency);
  opt("until", args.until);
  opt("max-attempts", args.max_attempts);
  opt("token-budget", args.token_budget);
  return argv;
}

/** The last `error ERR_...: message` and `hint: ...` lines a failed runner wrote. */
export function runnerError(log: string): { code: string; message: string; hint: string | null } | null {
  const lines = log.split("\n");
  const i = lines.findLastIndex((l) => /^error ERR_[A-Z0-9_]+: /.test(l));
  if (i < 0) return null;
  const m = /^error (ERR_[A-Z0-9_]+): (.*)$/.exec(lines[i] as string) as RegExpExecArray;
  const hint = lines[i + 1]?.startsWith("hint: ") ? (lines[i + 1] as string).slice(6) : null;
  return { code: m[1] as string, message: m[2] as string, hint };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The run tool: start (or resume) a run in a detached `dwm run` whose events and errors go to
 * `.dwm/mcp/<run>.log`, and answer once the runner holds the run's lock (or has already ended).
 * A run another runner holds is left alone, and the answer says who holds it.
 */
export function createRunLauncher(options: LauncherOptions = {}) {
  const started = new Map<string, ChildProcess>();
  const waitMs = options.waitMs ?? 30_000;
  const pollMs = options.pollMs ?? 50;
  return async (args: Record<string, unknown>, ctx: CommandContext): Promise<Record<string, unknown>> => {
    const t = await targetOf(args, ctx);
    const base = {
      kind: "mcp-run-start",
      run_id: t.runId,
      run_dir: path.relative(t.root, t.runDir).split(path.sep).join("/"),
    };
    const follow = `status, next and log (after_seq) follow the run; gates lists what waits for a person`;
    // The lease is another process's, written with the real clock.
    const holder = liveHolder(t.runDir, new Date().toISOString());
    const mine = started.get(t.runId);
    if (holder || (mine && mine.exitCode === null && mine.signalCode === null)) {
      return {
        ...base,
        state: "already-running",
        pid: holder?.pid ?? mine?.pid ?? null,
        exit_code: null,
        holder,
        log: null,
        follow,
      };
    }
    const logRel = `.dwm/mcp/${t.runId}.log`;
    const logFile = path.join(t.root, logRel);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, "w");
    const argv = [...(options.dwm ?? [process.execPath, dwmBin()]), ...runArgv(args, t.positional)];
    let child: ChildProcess;
    try {
      child = spawn(argv[0] as string, argv.slice(1), {
        cwd: ctx.cwd,
        env: Object.fromEntries(
          Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined),
        ),
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      fs.closeSync(fd);
    }
    child.unref();
    started.set(t.runId, child);
    const outcome = await settle(child, t, waitMs, pollMs);
    if (outcome.exitCode !== null && ![0, 4, 5].includes(outcome.exitCode)) {
      const err = runnerError(fs.readFileSync(logFile, "utf8"));
      throw mcpErrors.create(
        "ERR_MCP_RUN_FAILED",
        `dwm run exited ${outcome.exitCode}${err ? `: ${err.code} ${err.message}` : ""}`,
        {
          ...(err?.hint ? { hint: err.hint } : {}),
          details: { log: logRel, exit_code: outcome.exitCode, error: err },
        },
      );
    }
    return {
      ...base,
      state: outcome.exitCode === null ? "started" : "finished",
      pid: child.pid ?? null,
      exit_code: outcome.exitCode,
      holder: null,
      log: logRel,
      follow,
    };
  };
}

/** Leases the journal records for process `pid` (lease.taken and lease.taken-over events). */
export function leasesOf(runDir: string, pid: number): number {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, "journal.jsonl"), "utf8");
  } catch {
    return 0;
  }
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.includes('"lease.taken')) continue;
    try {
      if ((JSON.parse(line) as { data: { pid?: number } }).data.pid === pid) n++;
    } catch {
      // a line being written
    }
  }
  return n;
}

/**
 * Wait until the child runs the run (it holds the lock for running, and has journaled the
 * lease it runs under: not the one a recompile takes and lets go) or has exited (its exit
 * code), at most `waitMs`.
 */
async function settle(
  child: ChildProcess,
  t: LaunchTarget,
  waitMs: number,
  pollMs: number,
): Promise<{ exitCode: number | null }> {
  let code: number | null = null;
  child.once("exit", (c, signal) => {
    code = c ?? (signal ? 128 : 1);
  });
  child.once("error", () => {
    code = 127;
  });
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (code !== null) return { exitCode: code };
    const pid = child.pid ?? -1;
    if (liveHolder(t.runDir, new Date().toISOString())?.pid === pid && leasesOf(t.runDir, pid) >= t.leases)
      return { exitCode: null };
    await sleep(pollMs);
  }
  return { exitCode: code };
}
