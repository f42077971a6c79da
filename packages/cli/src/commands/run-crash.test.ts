// The built CLI (packages/cli/dist/bin.js; turbo builds before tests) killed with SIGKILL at
// several points of a run, then run again: completed packets never run twice, verify passes.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock, git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../main.js";

const BIN = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function copyDir(from: string, to: string): void {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyDir(a, b);
    } else fs.copyFileSync(a, b);
  }
}

function auditRepo(): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  copyDir(path.join(EXAMPLES, "repo-audit"), repo.path);
  const file = path.join(repo.path, "dwm.workers.json");
  const b = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const v of Object.values(b.bindings) as { pass_env?: string[] }[])
    v.pass_env = ["DWM_SIDE_EFFECT_LOG", "DWM_EXAMPLE_SLOW_MS"];
  fs.writeFileSync(file, JSON.stringify(b, null, 2));
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "audit");
  return repo;
}

interface Ev {
  seq: number;
  type: string;
  data: { packet_id?: string };
}

function events(repo: string): Ev[] {
  const runs = path.join(repo, ".dwm", "runs");
  if (!fs.existsSync(runs)) return [];
  const [run] = fs.readdirSync(runs);
  if (run === undefined) return [];
  const file = path.join(runs, run, "journal.jsonl");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as Ev);
}

function start(repo: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Poll the journal until `when` holds (or the child exits). */
async function waitFor(repo: string, child: ChildProcess, when: (evs: Ev[]) => boolean): Promise<Ev[]> {
  for (;;) {
    const evs = events(repo);
    if (when(evs)) return evs;
    if (child.exitCode !== null)
      throw new Error(`the runner exited (${child.exitCode}) before the kill point`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function dwm(cwd: string, argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, clock: new FakeClock(), emit: () => {} },
  );
  return { code, stdout, stderr };
}

const KILL_POINTS: [string, (evs: Ev[]) => boolean][] = [
  [
    "a scan was dispatched",
    (evs) => evs.some((e) => e.type === "packet.dispatched" && e.data.packet_id?.startsWith("scan_")),
  ],
  [
    "a scan completed while others ran",
    (evs) => evs.some((e) => e.type === "packet.completed" && e.data.packet_id?.startsWith("scan_")),
  ],
  [
    "the report was dispatched",
    (evs) => evs.some((e) => e.type === "packet.dispatched" && e.data.packet_id === "report"),
  ],
];

describe.skipIf(!fs.existsSync(BIN))("dwm run survives SIGKILL (built CLI)", () => {
  it.each(KILL_POINTS)(
    "killed when %s: running again completes, no completed packet runs twice",
    async (_, when) => {
      const repo = auditRepo();
      const tmp = makeTempDir("dwm-crash-");
      cleanups.push(tmp.cleanup);
      const log = path.join(tmp.path, "side-effects.log");
      const env = { DWM_SIDE_EFFECT_LOG: log, DWM_EXAMPLE_SLOW_MS: "400", TMPDIR: tmp.path };

      const child = start(repo.path, ["run", "workflow.plan.json", "--concurrency", "2"], env);
      const atKill = await waitFor(repo.path, child, when);
      child.kill("SIGKILL");
      await exited(child);
      const doneBefore = new Set(
        events(repo.path)
          .filter((e) => e.type === "packet.completed")
          .map((e) => e.data.packet_id as string),
      );
      expect(atKill.length).toBeGreaterThan(0);

      const again = start(repo.path, ["run"], env);
      expect(await exited(again)).toBe(4);
      const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
      expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
      const last = start(repo.path, ["run", runId], env);
      expect(await exited(last)).toBe(0);
      expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);

      const ran = fs.readFileSync(log, "utf8").trim().split("\n");
      const count = (id: string) => ran.filter((r) => r === id).length;
      for (const id of ["scan_docs", "scan_lib", "scan_src", "report"]) {
        expect(count(id)).toBeGreaterThanOrEqual(1);
        if (doneBefore.has(id)) expect(count(id)).toBe(1);
      }
      const evs = events(repo.path);
      expect(evs.at(-1)?.type).toBe("run.completed");
      expect(evs.filter((e) => e.type === "packet.completed")).toHaveLength(6);
      expect(evs.some((e) => e.type === "lease.taken-over")).toBe(true);
    },
    60_000,
  );

  it("a second dwm run on the same run is refused while the first runs", async () => {
    const repo = auditRepo();
    const tmp = makeTempDir("dwm-crash-");
    cleanups.push(tmp.cleanup);
    const env = { DWM_EXAMPLE_SLOW_MS: "400", TMPDIR: tmp.path };
    const child = start(repo.path, ["run", "workflow.plan.json"], env);
    await waitFor(repo.path, child, (evs) => evs.some((e) => e.type === "packet.dispatched"));
    const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
    const second = await dwm(repo.path, ["run", runId]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("ERR_RUN_LOCKED");
    const next = JSON.parse((await dwm(repo.path, ["next", runId, "--json"])).stdout);
    expect(next.action).toBe("wait");
    expect(await exited(child)).toBe(4);
  }, 240_000);
});
