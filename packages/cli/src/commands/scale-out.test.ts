// Scale-out with processes: a private redis-server (loopback, random port, append-only file), a
// bare git remote, the built CLI as one coordinator (dwm run --queue) and two workers (dwm worker).
// SIGKILL a worker mid-attempt, restart Redis mid-run, SIGKILL the coordinator: the run completes,
// verify passes, and each packet ran as often as the failure demands and no more.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { validateSchema, type WorkerList } from "@dwm/schemas";
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
import { dwmRemoteRefs, jobsInRedis, ranCounts, until } from "../test-support/scale-out.js";

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
      // The workers append to a side-effect log outside their checkout (how the test counts
      // real executions): the OS sandbox forbids that, so these workers run without it.
      "--no-sandbox",
      "--name",
      name,
    ],
    { ...s.env, DWM_EXAMPLE_SLOW_MS: String(slowMs) },
  );
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

    // Every job of the run so far left Redis once recorded (the lost one too).
    expect(jobsInRedis(s.redis.port)).toEqual([]);
    // Workers left their evidence and attempt branches on the remote, the lost attempt's too.
    const leftOnRemote = dwmRemoteRefs(s.tmp.path, s.remote);
    expect(
      leftOnRemote.filter((r) => /^refs\/dwm\/[^/]+\/[0-9a-f]{32}\/evidence\//.test(r)).length,
    ).toBeGreaterThanOrEqual(4);

    // 5. Approve the gate, finish through the queue, verify.
    const runId = fs.readdirSync(path.join(s.repo.path, ".dwm", "runs"))[0] as string;
    expect((await dwm(s.repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const c3 = start(s.repo.path, ["run", runId, "--queue", s.redis.url, "--remote", s.remote], s.env);
    expect(await exited(c3), c3.out.join("\n")).toBe(0);
    const verify = await dwm(s.repo.path, ["verify", runId]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(events(s.repo.path).at(-1)?.type).toBe("run.completed");
    // The completed run took its refs off the remote; the repository keeps the attempt refs (no branches).
    expect(dwmRemoteRefs(s.tmp.path, s.remote)).toEqual([]);
    expect(c3.out.join("\n")).toMatch(/removed \d+ ref\(s\) of run/);
    expect(jobsInRedis(s.redis.port)).toEqual([]);
    expect(git(s.repo.path, "for-each-ref", "--format=%(refname)", "refs/dwm/")).toContain(`/${lost}/2`);
    expect(git(s.repo.path, "branch", "--list", "dwm/*").trim()).toMatch(/^dwm\/[^/]+\/integration$/);
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

  it("with client certificates (tls-auth-clients yes): without one both refuse; with one from options (worker) or DWM_REDIS_TLS_* (coordinator), and the CA named the same way, the example runs to completion", async ({
    skip,
  }) => {
    skip(noRedis || leftOut("openssl"), "DWM_TEST_SKIP=redis-server or openssl");
    requirePart("redis-server");
    requirePart("openssl");
    const repo = auditRepo(cleanups);
    const tmp = makeTempDir("dwm-scale-mtls-");
    cleanups.push(tmp.cleanup);
    const remote = path.join(tmp.path, "remote.git");
    git(tmp.path, "init", "--quiet", "--bare", remote);
    const files = makeTlsFiles(path.join(tmp.path, "tls"));
    const redis = await startRedisServer({ tls: files, tlsAuthClients: true });
    cleanups.push(() => redis.stop());
    const env = { DWM_SIDE_EFFECT_LOG: path.join(tmp.path, "side-effects.log"), TMPDIR: tmp.path };
    const run = ["run", "workflow.plan.json", "--queue", redis.url, "--remote", remote];
    const workerArgs = ["worker", "--queue", redis.url, "--backends", "shell", "--tls-ca", files.caFile];

    // The CA trusted, no client certificate: refused, and told why.
    const anonymous = start(tmp.path, workerArgs, env);
    expect(await exited(anonymous)).toBe(1);
    expect(anonymous.out.join("\n")).toContain("ERR_QUEUE_UNREACHABLE");
    expect(anonymous.out.join("\n")).toContain("--tls-cert and --tls-key");
    const refused = start(repo.path, run, { ...env, DWM_REDIS_TLS_CA: files.caFile });
    expect(await exited(refused)).toBe(1);
    expect(refused.out.join("\n")).toContain("ERR_QUEUE_UNREACHABLE");
    // A certificate without its key, or TLS files with a plain redis:// URL: a usage error.
    const half = start(tmp.path, [...workerArgs, "--tls-cert", files.clientCertFile], env);
    expect(await exited(half)).toBe(2);
    expect(half.out.join("\n")).toContain("ERR_QUEUE_TLS_FILE");
    const plain = start(
      tmp.path,
      [
        "worker",
        "--queue",
        redis.url.replace("rediss:", "redis:"),
        "--backends",
        "shell",
        "--tls-ca",
        files.caFile,
      ],
      env,
    );
    expect(await exited(plain)).toBe(2);
    expect(plain.out.join("\n")).toContain("ERR_QUEUE_TLS_FILE: TLS files");

    // With the client certificate: the run goes through the queue to its gate, then to the end.
    const w = start(
      tmp.path,
      [...workerArgs, "--tls-cert", files.clientCertFile, "--tls-key", files.clientKeyFile, "--name", "mtls"],
      env,
    );
    await until("the worker to be ready", () => w.out.some((l) => l.includes("takes")), w);
    const withCert = {
      ...env,
      DWM_REDIS_TLS_CA: files.caFile,
      DWM_REDIS_TLS_CERT: files.clientCertFile,
      DWM_REDIS_TLS_KEY: files.clientKeyFile,
    };
    const c1 = start(repo.path, run, withCert);
    expect(await exited(c1), c1.out.join("\n")).toBe(4);
    const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
    expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const c2 = start(repo.path, ["run", runId, "--queue", redis.url, "--remote", remote], withCert);
    expect(await exited(c2), c2.out.join("\n")).toBe(0);
    expect(w.out.filter((l) => l.startsWith("finished")).length).toBeGreaterThanOrEqual(4);
    const verify = await dwm(repo.path, ["verify", runId]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const tlsCli = [
      "--tls",
      "--cacert",
      files.caFile,
      "--cert",
      files.clientCertFile,
      "--key",
      files.clientKeyFile,
    ];
    expect(jobsInRedis(redis.port, "dwm", tlsCli)).toEqual([]);
    w.kill("SIGTERM");
    expect(await exited(w)).toBe(0);
  }, 180_000);

  it("dwm workers lists the live workers (host, pid, backends, concurrency, running jobs, heartbeat, lanes in BullMQ's registry); a killed worker leaves the registry at once, a stopped one the list", async () => {
    const s = await setup();
    const w1 = worker(s, "w1", 3000, 2);
    const w2 = start(
      s.tmp.path,
      ["worker", "--queue", s.redis.url, "--backends", "shell,dry-run", "--concurrency", "3", "--name", "w2"],
      s.env,
    );
    for (const w of [w1, w2])
      await until("a worker to be ready", () => w.out.some((l) => l.includes("takes")), w);
    const list = async () => {
      const r = await dwm(s.tmp.path, ["workers", "--queue", s.redis.url, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as WorkerList;
    };
    const both = await list();
    expect(validateSchema("worker-list", both).ok).toBe(true);
    expect(both.workers.map((w) => [w.name, w.pid, w.backends, w.concurrency, w.registered_lanes])).toEqual([
      ["w1", w1.pid, ["shell"], 2, ["shell"]],
      ["w2", w2.pid, ["dry-run", "shell"], 3, ["dry-run", "dry-run+shell", "shell"]],
    ]);
    // While a run goes, w1's running jobs are listed.
    const c1 = start(
      s.repo.path,
      ["run", "workflow.plan.json", "--queue", s.redis.url, "--remote", s.remote],
      s.env,
    );
    await until("w1 to start a job", () => w1.out.some((l) => l.startsWith("started ")), c1);
    let running: string[] = [];
    for (let i = 0; i < 100 && running.length === 0; i++) {
      running = (await list()).workers.flatMap((w) => w.running.map((r) => `${w.name} ${r.lane}`));
      if (running.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(running[0]).toMatch(/^w[12] shell$/);
    const text = await dwm(s.tmp.path, ["workers", "--queue", s.redis.url]);
    expect(text.stdout).toContain(`2 worker(s) on ${s.redis.url} (prefix dwm)`);
    expect(text.stdout).toMatch(/running \S+ \(shell\) for \d+s/);
    c1.kill("SIGKILL");
    await exited(c1);
    w1.kill("SIGKILL");
    await exited(w1);
    w2.kill("SIGTERM");
    expect(await exited(w2)).toBe(0);
    // w1 died: its connections are gone (its heartbeat expires later); w2 stopped: gone.
    const after = await list();
    expect(after.workers.map((w) => [w.name, w.registered_lanes])).toEqual([["w1", []]]);
    const usage = await dwm(s.tmp.path, ["workers"]);
    expect(usage.code).toBe(2);
  }, 120_000);

  it("a --queue run resumed without its queue is refused with the command (ERR_QUEUE_RESUME_MISMATCH); with it, the job is adopted; once that Redis is gone, --abandon-queued runs the attempt here", async () => {
    const s = await setup();
    const w = worker(s, "w", 1500, 1);
    await until("the worker to be ready", () => w.out.some((l) => l.includes("takes")), w);
    const queue = ["--queue", s.redis.url, "--remote", s.remote];
    const c1 = start(s.repo.path, ["run", "workflow.plan.json", ...queue], s.env);
    const first = await until(
      "the first attempt to start",
      () => w.out.find((l) => l.startsWith("started ")),
      c1,
    );
    c1.kill("SIGKILL");
    await exited(c1);
    const runId = fs.readdirSync(path.join(s.repo.path, ".dwm", "runs"))[0] as string;
    const inFlight = /\/([^/]+)\/1 \(/.exec(first)?.[1] as string;

    // Without --queue, or with another prefix: refused before anything is abandoned.
    for (const extra of [[], [...queue, "--queue-prefix", "other"]]) {
      const refused = start(s.repo.path, ["run", runId, ...extra], s.env);
      expect(await exited(refused)).toBe(2);
      const said = refused.out.join("\n");
      expect(said).toContain(`ERR_QUEUE_RESUME_MISMATCH: 1 attempt(s) of run ${runId} are in flight`);
      expect(said).toContain(`${inFlight}/1`);
      expect(said).toContain(`dwm run ${runId} --queue ${s.redis.url} --remote`);
    }
    expect(events(s.repo.path).some((e) => e.type === "packet.abandoned")).toBe(false);

    // With it: the job is adopted and recorded, and the scans go out; the coordinator dies again
    // while a scan runs, and so do the worker and Redis.
    const c2 = start(s.repo.path, ["run", runId, ...queue], s.env);
    await until("a scan to start", () => w.out.some((l) => /^started \S+\/scan_\w+\/1 /.test(l)), c2);
    c2.kill("SIGKILL");
    w.kill("SIGKILL");
    await Promise.all([exited(c2), exited(w)]);
    expect(c2.out.join("\n")).toContain(`kept 1 job(s) still in the queue: ${runId}/${inFlight}/1`);
    await s.redis.stopServer();
    const evs = events(s.repo.path);
    expect(evs.some((e) => e.type === "attempt.recorded" && e.data.packet_id === inFlight)).toBe(true);
    expect(evs.some((e) => e.type === "packet.abandoned")).toBe(false);
    const scans = evs
      .filter((e) => e.type === "packet.dispatched" && e.data.packet_id?.startsWith("scan_"))
      .map((e) => e.data.packet_id as string)
      .sort();
    expect(scans).toEqual(["scan_docs", "scan_lib", "scan_src"]);

    // That Redis is gone: still refused without a word; --abandon-queued runs the scans here.
    const gone = start(s.repo.path, ["run", runId], s.env);
    expect(await exited(gone)).toBe(2);
    const c3 = start(s.repo.path, ["run", runId, "--abandon-queued"], s.env);
    expect(await exited(c3), c3.out.join("\n")).toBe(4);
    expect(c3.out.join("\n")).toMatch(
      /--abandon-queued: .*scan_\w+\/1 \(redis:\/\/127\.0\.0\.1:\d+\).* run again/,
    );
    const abandoned = events(s.repo.path).filter((e) => e.type === "packet.abandoned");
    expect(abandoned.map((e) => `${e.data.packet_id}/${e.data.attempt}`).sort()).toEqual(
      scans.map((id) => `${id}/1`),
    );
    expect((await dwm(s.repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const c4 = start(s.repo.path, ["run", runId], s.env);
    expect(await exited(c4), c4.out.join("\n")).toBe(0);
    const verify = await dwm(s.repo.path, ["verify", runId]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 180_000);

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
