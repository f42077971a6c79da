// Scale-out with processes: a private redis-server (loopback, random port, append-only file), a
// bare git remote, the built CLI as one coordinator (dwm run --queue) and two workers (dwm worker).
// SIGKILL a worker mid-attempt, restart Redis mid-run, SIGKILL the coordinator: the run completes,
// verify passes, and each packet ran as often as the failure demands and no more.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  git,
  leftOut,
  makeGitRepo,
  makeTempDir,
  makeTlsFiles,
  type RedisServer,
  requirePart,
  startRedisServer,
  type TempDir,
} from "@dwm/test-utils";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  auditRepo,
  BIN,
  type DwmProcess,
  dwmInProcess as dwm,
  journalEvents as events,
  exited,
  startDwm,
} from "../test-support/built-cli.js";

const cleanups: (() => void | Promise<void>)[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const c of cleanups.splice(0).reverse()) await c();
}, 240_000);

beforeAll(() => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (pnpm build)`);
});

// The tests that start redis-server (and make a CA with openssl) skip only when the user left
// those out (DWM_TEST_SKIP); when they are missing, the tests fail with how to install them.
const noRedis = leftOut("redis-server");

interface Setup {
  repo: TempDir;
  tmp: TempDir;
  remote: string;
  redis: RedisServer;
  log: string;
  env: Record<string, string>;
}

async function setup(): Promise<Setup> {
  requirePart("redis-server");
  const repo = auditRepo(cleanups);
  const tmp = makeTempDir("dwm-scale-");
  cleanups.push(tmp.cleanup);
  const remote = path.join(tmp.path, "remote.git");
  git(tmp.path, "init", "--quiet", "--bare", remote);
  const redis = await startRedisServer({ appendOnly: true });
  cleanups.push(() => redis.stop());
  const log = path.join(tmp.path, "side-effects.log");
  return { repo, tmp, remote, redis, log, env: { DWM_SIDE_EFFECT_LOG: log, TMPDIR: tmp.path } };
}

function start(cwd: string, args: string[], env: Record<string, string>): DwmProcess {
  const child = startDwm(cwd, args, env);
  children.push(child);
  return child;
}

/**
 * A `dwm worker` on the test's queue. `lockMs` is short only for a worker the test kills (so its
 * job is declared lost quickly); a healthy worker keeps a long lock, so a loaded machine or the
 * Redis restart cannot expire it, and checks for other workers' expired locks every second.
 */
function worker(s: Setup, name: string, slowMs: number, concurrency = 2, lockMs = 30_000) {
  return start(
    s.tmp.path,
    [
      "worker",
      "--queue",
      s.redis.url,
      "--backends",
      "shell",
      "--concurrency",
      String(concurrency),
      "--lock-ms",
      String(lockMs),
      "--stalled-ms",
      "1000",
      "--name",
      name,
    ],
    { ...s.env, DWM_EXAMPLE_SLOW_MS: String(slowMs) },
  );
}

async function until<T>(
  what: string,
  f: () => T | undefined | null | false,
  child?: ChildProcess,
): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = f();
    if (v) return v;
    if (child && child.exitCode !== null)
      throw new Error(`exited (${child.exitCode}) while waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The refs DWM keeps on the remote: evidence, base and attempt branches. */
function dwmRemoteRefs(cwd: string, remote: string): string[] {
  return git(cwd, "ls-remote", remote)
    .split("\n")
    .map((l) => l.split("\t")[1] ?? "")
    .filter((r) => r.startsWith("refs/dwm/") || r.startsWith("refs/heads/dwm/"));
}

function ranCounts(log: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of fs.readFileSync(log, "utf8").trim().split("\n")) out[l] = (out[l] ?? 0) + 1;
  return out;
}

describe("dwm run --queue with dwm worker processes (real Redis, bare remote)", () => {
  it("one coordinator, two workers: a worker SIGKILLed mid-attempt, Redis restarted, the coordinator SIGKILLed — the run completes, verify passes, only the lost packet ran again, once", async ({
    skip,
  }) => {
    skip(noRedis, "DWM_TEST_SKIP=redis-server");
    const s = await setup();
    const w1 = worker(s, "w1", 2500, 1, 4000);
    const w2 = worker(s, "w2", 200);
    await until(
      "both workers ready",
      () => w1.out.some((l) => l.includes("takes")) && w2.out.some((l) => l.includes("takes")),
    );
    const run = ["run", "workflow.plan.json", "--queue", s.redis.url, "--remote", s.remote];
    const c1 = start(s.repo.path, run, s.env);

    // 1. w1 runs its attempts slowly: SIGKILL it while it holds a scan.
    const started = await until(
      "w1 to start a scan",
      () => w1.out.find((l) => /^started \S+\/scan_\w+\/1 /.test(l)),
      c1,
    );
    const lost = /\/(scan_\w+)\/1 /.exec(started)?.[1] as string;
    await until(
      "the scan to run",
      () => fs.existsSync(s.log) && fs.readFileSync(s.log, "utf8").includes(lost),
    );
    w1.kill("SIGKILL");
    await exited(w1);

    // 2. Redis restarts (append-only file on) while w2 carries on.
    await s.redis.stopServer();
    await s.redis.startServer();

    // 3. The lost packet goes out again as attempt 2 (BullMQ's stalled check failed the job); while
    //    w2 runs it, SIGKILL the coordinator. Its result arrives while no coordinator runs.
    await until(
      "w2 to start the lost packet again",
      () => w2.out.some((l) => l.startsWith("started ") && l.includes(`/${lost}/2 `)),
      c1,
    );
    c1.kill("SIGKILL");
    await exited(c1);
    await until("w2 to finish it", () =>
      w2.out.some((l) => l.startsWith("finished") && l.includes(`/${lost}/2:`)),
    );

    // 4. Resume: the finished job is kept and ingested, nothing is enqueued twice; the run stops at the human gate.
    const c2 = start(s.repo.path, run, s.env);
    expect(await exited(c2), c2.out.join("\n")).toBe(4);
    // The lost packet's second attempt (and any other job still in flight at the kill) is kept.
    expect(
      c2.out.some((l) => /kept \d+ job\(s\) still in the queue/.test(l) && l.includes(`/${lost}/2`)),
      c2.out.join("\n"),
    ).toBe(true);
    const evs = events(s.repo.path);
    const abandoned = evs.filter((e) => e.type === "packet.abandoned");
    expect(
      abandoned.map((e) => [e.data.packet_id, e.data.attempt]),
      JSON.stringify(abandoned),
    ).toEqual([[lost, 1]]);
    expect(abandoned[0]?.data.reason).toMatch(/^infrastructure: the worker was lost/);
    // Never a verdict on the lost attempt; attempt 2 completed the packet.
    expect(
      evs.some((e) => e.type === "packet.reviewed" && e.data.packet_id === lost && e.data.attempt === 1),
    ).toBe(false);
    expect(
      evs
        .filter((e) => e.type === "attempt.recorded" && e.data.packet_id === lost)
        .map((e) => e.data.attempt),
    ).toEqual([2]);
    expect(
      evs.some((e) => e.type === "packet.completed" && e.data.packet_id === lost && e.data.attempt === 2),
    ).toBe(true);

    // Workers left their evidence and attempt branches on the remote, the lost attempt's too.
    const leftOnRemote = dwmRemoteRefs(s.tmp.path, s.remote);
    expect(leftOnRemote.filter((r) => r.startsWith("refs/dwm/evidence/")).length).toBeGreaterThanOrEqual(4);

    // 5. Approve the gate, finish through the queue, verify.
    const runId = fs.readdirSync(path.join(s.repo.path, ".dwm", "runs"))[0] as string;
    expect((await dwm(s.repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const c3 = start(s.repo.path, ["run", runId, "--queue", s.redis.url, "--remote", s.remote], s.env);
    expect(await exited(c3), c3.out.join("\n")).toBe(0);
    const verify = await dwm(s.repo.path, ["verify", runId]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(events(s.repo.path).at(-1)?.type).toBe("run.completed");
    // The completed run took its refs off the remote; the repository keeps the attempt branches.
    expect(dwmRemoteRefs(s.tmp.path, s.remote)).toEqual([]);
    expect(c3.out.join("\n")).toMatch(/removed \d+ ref\(s\) of run/);
    expect(git(s.repo.path, "branch", "--list", "dwm/*")).toContain(`/${lost}/2`);
    const counts = ranCounts(s.log);
    expect(counts[lost]).toBe(2);
    for (const id of ["scan_docs", "scan_lib", "scan_src", "report"])
      if (id !== lost) expect(counts[id]).toBe(1);

    // A worker stops cleanly on SIGTERM.
    w2.kill("SIGTERM");
    expect(await exited(w2)).toBe(0);
  }, 120_000);

  it("over TLS (rediss://, the CA trusted through NODE_EXTRA_CA_CERTS) a coordinator and a worker run the example to completion; without the CA both refuse with ERR_QUEUE_UNREACHABLE", async ({
    skip,
  }) => {
    skip(noRedis || leftOut("openssl"), "DWM_TEST_SKIP=redis-server or openssl");
    requirePart("redis-server");
    requirePart("openssl");
    const repo = auditRepo(cleanups);
    const tmp = makeTempDir("dwm-scale-tls-");
    cleanups.push(tmp.cleanup);
    const remote = path.join(tmp.path, "remote.git");
    git(tmp.path, "init", "--quiet", "--bare", remote);
    const files = makeTlsFiles(path.join(tmp.path, "tls"));
    const redis = await startRedisServer({ tls: files });
    cleanups.push(() => redis.stop());
    expect(redis.url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    const env = { DWM_SIDE_EFFECT_LOG: path.join(tmp.path, "side-effects.log"), TMPDIR: tmp.path };
    const run = ["run", "workflow.plan.json", "--queue", redis.url, "--remote", remote];

    // Not trusting the CA: refused before anything is queued, the reason named.
    const untrusted = start(tmp.path, ["worker", "--queue", redis.url, "--backends", "shell"], env);
    expect(await exited(untrusted)).toBe(1);
    expect(untrusted.out.join("\n")).toMatch(/ERR_QUEUE_UNREACHABLE.*certificate/);
    const refused = start(repo.path, run, env);
    expect(await exited(refused)).toBe(1);
    expect(refused.out.join("\n")).toContain("ERR_QUEUE_UNREACHABLE");
    // The plan may be compiled; nothing was journaled beyond that.
    expect(events(repo.path).filter((e) => e.type !== "run.opened")).toEqual([]);

    // Trusting it: the run goes through the queue to its human gate, then to the end.
    const trusted = { ...env, NODE_EXTRA_CA_CERTS: files.caFile };
    const w = start(
      tmp.path,
      ["worker", "--queue", redis.url, "--backends", "shell", "--name", "tls"],
      trusted,
    );
    await until("the worker to be ready", () => w.out.some((l) => l.includes("takes")), w);
    const c1 = start(repo.path, run, trusted);
    expect(await exited(c1), c1.out.join("\n")).toBe(4);
    const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
    expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const c2 = start(repo.path, ["run", runId, "--queue", redis.url, "--remote", remote], trusted);
    expect(await exited(c2), c2.out.join("\n")).toBe(0);
    expect(w.out.filter((l) => l.startsWith("finished")).length).toBeGreaterThanOrEqual(4);
    const verify = await dwm(repo.path, ["verify", runId]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    w.kill("SIGTERM");
    expect(await exited(w)).toBe(0);
  }, 120_000);

  it("usage and connection errors are coded: bad URL, unreachable Redis, --queue without --remote, worker without --backends, bad --lock-ms/--stalled-ms", async () => {
    const repo = makeGitRepo({ "a.txt": "a\n" });
    cleanups.push(repo.cleanup);
    const bad = await dwm(repo.path, ["worker", "--queue", "http://127.0.0.1:1", "--backends", "shell"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ERR_QUEUE_URL_INVALID");
    const down = await dwm(repo.path, ["worker", "--queue", "redis://127.0.0.1:1", "--backends", "shell"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("ERR_QUEUE_UNREACHABLE");
    const nob = await dwm(repo.path, ["worker", "--queue", "redis://127.0.0.1:1"]);
    expect(nob.code).toBe(2);
    expect(nob.stderr).toContain("--backends");
    const odd = await dwm(repo.path, ["worker", "--queue", "redis://127.0.0.1:1", "--backends", "bash"]);
    expect(odd.code).toBe(2);
    for (const [flag, v] of [
      ["--lock-ms", "999"],
      ["--stalled-ms", "1s"],
    ]) {
      const r = await dwm(repo.path, [
        "worker",
        "--queue",
        "redis://127.0.0.1:1",
        "--backends",
        "shell",
        flag as string,
        v as string,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${flag} must be a whole number`);
    }
    const noRemote = await dwm(repo.path, ["run", "--queue", "redis://127.0.0.1:1"]);
    expect(noRemote.code).toBe(2);
  });
});
