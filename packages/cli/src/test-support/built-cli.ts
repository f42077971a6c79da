// Helpers for the tests that drive the built CLI (packages/cli/dist/dwm.cjs; turbo builds before
// tests) as a separate process: start it, wait for journal events, kill it, and run `dwm` in-process
// for the checks afterwards (status, verify) with a fake clock.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock, git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "./operator.js";

export const BIN = fileURLToPath(new URL("../../dist/dwm.cjs", import.meta.url));

/** Fails the suite that drives the built CLI when it is not built (never a silent skip). */
export function requireBuiltCli(): void {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (pnpm build)`);
}
export const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));

/** One journal line, with the fields the process tests read. */
export interface JournalEvent {
  seq: number;
  type: string;
  data: {
    packet_id?: string;
    attempt?: number;
    reason?: string;
    dropped?: string[];
    packets?: { packet_id: string }[];
  };
}

/**
 * A git repository (removed by `cleanups`) holding examples/repo-audit, its bindings passing
 * DWM_SIDE_EFFECT_LOG and DWM_EXAMPLE_SLOW_MS to the workers, committed.
 */
export function auditRepo(cleanups: (() => void | Promise<void>)[]): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  fs.cpSync(path.join(EXAMPLES, "repo-audit"), repo.path, { recursive: true });
  const file = path.join(repo.path, "dwm.workers.json");
  const b = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const v of Object.values(b.bindings) as { pass_env?: string[] }[])
    v.pass_env = ["DWM_SIDE_EFFECT_LOG", "DWM_EXAMPLE_SLOW_MS"];
  fs.writeFileSync(file, JSON.stringify(b, null, 2));
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "audit");
  trustOperator(repo.path);
  return repo;
}

/** The folder of the (only) run in `repo`'s store; `none` inside the store when there is no run yet. */
export function runDir(repo: string): string {
  const runs = path.join(repo, ".dwm", "runs");
  const [run] = fs.existsSync(runs) ? fs.readdirSync(runs) : [];
  return path.join(runs, run ?? "none");
}

/** The complete lines of the run's journal (a line being written is left out). */
export function journalEvents(repo: string): JournalEvent[] {
  const file = path.join(runDir(repo), "journal.jsonl");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as JournalEvent);
}

export type DwmProcess = ChildProcess & { out: string[] };

/**
 * Start the built `dwm` with `args` in `cwd` and only PATH, HOME and `env` in its environment.
 * Its stdout lines and stderr chunks (prefixed `stderr: `) collect in `out`.
 */
export function startDwm(cwd: string, args: string[], env: Record<string, string>): DwmProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...operatorEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  }) as DwmProcess;
  child.out = [];
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    child.out.push(...lines);
  });
  child.stderr?.on("data", (d: Buffer) => child.out.push(`stderr: ${d.toString().trim()}`));
  return child;
}

/** Resolves with the child's exit code (null when a signal ended it), at once if it has ended. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Poll the journal until `when` holds; fails if the runner exits first. */
export async function waitForEvents(
  repo: string,
  child: ChildProcess,
  when: (evs: JournalEvent[]) => boolean,
  pollMs = 5,
): Promise<JournalEvent[]> {
  for (;;) {
    const evs = journalEvents(repo);
    if (when(evs)) return evs;
    if (child.exitCode !== null)
      throw new Error(`the runner exited (${child.exitCode}) before the kill point`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** `dwm argv` in this process, in `cwd`, with a fake clock; its exit code and output. */
export async function dwmInProcess(cwd: string, argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...operatorEnv(), ...env },
      clock: new FakeClock(),
      emit: () => {},
    },
  );
  return { code, stdout, stderr };
}
