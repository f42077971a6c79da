// Driving dwm: the built CLI as a child process (what a user runs), or `main` in-process where a
// suite needs thousands of calls. Both are the same command code; the child adds bin.ts and exit.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "@dwm/cli";
import { FakeClock, writeTestOperatorConfig } from "@dwm/test-utils";

/** The built CLI (turbo builds it before `test`). */
export const BIN = fileURLToPath(new URL("../../../cli/dist/dwm.cjs", import.meta.url));

/** Fails the suite that drives the built CLI when it is not built (never a silent skip). */
export function requireBuiltCli(): void {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (pnpm build)`);
}
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const EXAMPLES = path.join(REPO_ROOT, "examples");

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let operatorDir: string | null = null;

/** A DWM config directory holding the test operator's key (never the machine's ~/.config/dwm). */
function operatorConfigDir(): string {
  if (operatorDir === null || !fs.existsSync(operatorDir)) {
    const dir = writeTestOperatorConfig(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-reliability-operator-")));
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    operatorDir = dir;
  }
  return operatorDir;
}

/** A minimal environment: no variable of the test process leaks into dwm unless named; the test operator's key. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG"]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, DWM_CONFIG_DIR: operatorConfigDir(), ...extra };
}

/** Start `dwm <args>` (the built CLI) in `cwd`. */
export function startDwm(cwd: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Wait for a child started by startDwm and collect its output. */
export function finished(child: ChildProcess): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
  return new Promise((resolve) => {
    const done = () => resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once("close", done);
  });
}

/** Run the built CLI to the end. */
export function dwmChild(cwd: string, args: string[], env: Record<string, string>): Promise<Outcome> {
  return finished(startDwm(cwd, args, env));
}

/** `main` in-process, with a fake clock and a minimal environment. */
export async function dwmInProcess(
  cwd: string,
  args: string[],
  env: Record<string, string> = baseEnv(),
): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const code = await main(
    args,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd, env, clock: new FakeClock(), emit: () => {} },
  );
  return { code, signal: null, stdout, stderr };
}

export interface JournalLine {
  seq: number;
  type: string;
  data: Record<string, unknown> & { packet_id?: string; gate_id?: string };
}

/** The run directories under `<repo>/.dwm/runs`. */
export function runIds(repo: string): string[] {
  const runs = path.join(repo, ".dwm", "runs");
  return fs.existsSync(runs) ? fs.readdirSync(runs).sort() : [];
}

export function runDir(repo: string, runId: string): string {
  return path.join(repo, ".dwm", "runs", runId);
}

/** Complete journal lines of a run (a torn last line is left out), read without locking. */
export function journal(dir: string): JournalLine[] {
  const file = path.join(dir, "journal.jsonl");
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, "utf8");
  const out: JournalLine[] = [];
  for (const line of text.split("\n").slice(0, -1)) {
    try {
      out.push(JSON.parse(line) as JournalLine);
    } catch {
      // a damaged line: verify reports it; callers count events, not parse them
    }
  }
  return out;
}

/** `dwm run <plan>` to the human gate, `dwm approve`, `dwm run` to completion; returns the run id. */
export async function runToCompletion(
  repo: string,
  env: Record<string, string>,
  gate = "human-gate",
): Promise<string> {
  const first = await dwmChild(repo, ["run", "workflow.plan.json"], env);
  if (first.code !== 4) throw new Error(`dwm run exited ${first.code}: ${first.stderr.slice(0, 2000)}`);
  const [id] = runIds(repo);
  const a = await dwmChild(repo, ["approve", id as string, gate, "--reason", "reliability suite"], env);
  if (a.code !== 0) throw new Error(`dwm approve exited ${a.code}: ${a.stderr.slice(0, 2000)}`);
  const last = await dwmChild(repo, ["run", id as string], env);
  if (last.code !== 0) throw new Error(`dwm run exited ${last.code}: ${last.stderr.slice(0, 2000)}`);
  return id as string;
}

/** Every regular file under `dir`, as sorted POSIX paths relative to it. */
export function filesUnder(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}
