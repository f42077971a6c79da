// Workers as on other hosts: each `dwm worker` in a network and mount namespace of its own (a veth
// pair to this namespace, a read-only root and a fresh /tmp: it sees none of the coordinator's
// files), reaching Redis and the git remote — served by `git daemon`, not a path — only over the
// network. A worker SIGKILLed mid-attempt, Redis restarted and the coordinator SIGKILLed in one
// run: the run completes, verify passes, only the lost packet ran again, once, and nothing is
// left in Redis or on the remote. Namespaces, veth pairs and servers go in the teardown.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { git, makeTempDir, redisServerAvailable, startRedisServer } from "@dwm/test-utils";
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
import { NetLab, netnsUnavailable, startGitDaemon } from "../test-support/netns.js";
import { dwmRemoteRefs, jobsInRedis, until } from "../test-support/scale-out.js";

const cleanups: (() => void | Promise<void>)[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const c of cleanups.splice(0).reverse()) await c();
}, 240_000);

const inCi = process.env.CI === "true" || process.env.CI === "1";
const unavailable = netnsUnavailable();

beforeAll(() => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (pnpm build)`);
  if (!redisServerAvailable()) {
    throw new Error(
      "redis-server is not installed (scripts/ci-setup.sh installs it: apt-get install redis-server)",
    );
  }
  // CI runs as root; elsewhere the test says why it cannot run instead of failing.
  if (unavailable !== null && inCi) throw new Error(unavailable);
});

/** How often each packet was started on any worker (from their `started <job> (<lane>)` lines). */
function startedCounts(workers: DwmProcess[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of workers) {
    for (const l of w.out) {
      const packet = /^started \S+\/([^/\s]+)\/\d+ \(/.exec(l)?.[1];
      if (packet !== undefined) out[packet] = (out[packet] ?? 0) + 1;
    }
  }
  return out;
}

describe("dwm worker in namespaces of its own (other hosts), git daemon remote", () => {
  it.skipIf(unavailable !== null && !inCi)(
    `workers share no files with the coordinator and reach Redis and the remote over veth only; a worker SIGKILLed, Redis restarted and the coordinator SIGKILLed lose nothing${unavailable ? ` (skipped: ${unavailable})` : ""}`,
    async () => {
      const lab = new NetLab();
      cleanups.push(() => lab.dispose());
      const repo = auditRepo(cleanups);
      const tmp = makeTempDir("dwm-netns-");
      cleanups.push(tmp.cleanup);
      const served = path.join(tmp.path, "git");
      fs.mkdirSync(served);
      git(served, "init", "--quiet", "--bare", "remote.git");
      const daemon = await startGitDaemon(served, lab.svc);
      cleanups.push(daemon.stop);
      const remote = daemon.url("remote.git");
      // A password, as Redis wants one for clients that are not on loopback (protected mode).
      const password = "netns-secret";
      const redis = await startRedisServer({ appendOnly: true, bind: [lab.svc], password });
      cleanups.push(() => redis.stop());
      const queue = `redis://:${password}@${lab.svc}:${redis.port}`;
      const auth = ["-a", password, "--no-auth-warning"];

      // Their side-effect logs are in their own /tmp; the coordinator's files are not there at all.
      const hide = [repo.path, tmp.path, redis.dir];
      const worker = (name: string, slowMs: number, concurrency: number, lockMs: number) => {
        const w = lab.worker(
          [
            "worker",
            "--queue",
            queue,
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
          { DWM_SIDE_EFFECT_LOG: "/tmp/side-effects.log", DWM_EXAMPLE_SLOW_MS: String(slowMs) },
          hide,
        );
        children.push(w.process);
        return w;
      };
      const w1 = worker("w1", 2500, 1, 4000);
      const w2 = worker("w2", 200, 2, 30_000);
      for (const w of [w1, w2]) {
        const inside = await w.inside;
        // Loopback and its own veth address: no other way out.
        expect(inside.addresses).toEqual(["127.0.0.1/8", `${w.address}/30`]);
        expect(inside.hidden).toBe(true);
        await until(
          "a worker to be ready",
          () => w.process.out.some((l) => l.includes("takes")),
          w.process,
        ).catch((e: Error) => {
          throw new Error(`${e.message}\n${w.process.out.join("\n")}`);
        });
      }

      const start = (args: string[]) => {
        const c = startDwm(repo.path, args, { TMPDIR: tmp.path });
        children.push(c);
        return c;
      };
      const run = ["run", "workflow.plan.json", "--queue", queue, "--remote", remote];
      const c1 = start(run);

      // 1. SIGKILL w1 (and with it its namespace) while it runs a scan.
      const started = await until(
        "w1 to start a scan",
        () => w1.process.out.find((l) => /^started \S+\/scan_\w+\/1 /.test(l)),
        c1,
      );
      const lost = /\/(scan_\w+)\/1 /.exec(started)?.[1] as string;
      w1.process.kill("SIGKILL");
      await exited(w1.process);

      // 2. Redis restarts (append-only file on) while w2 carries on.
      await redis.stopServer();
      await redis.startServer();

      // 3. The lost packet goes out again as attempt 2; while w2 runs it, SIGKILL the coordinator.
      await until(
        "w2 to start the lost packet again",
        () => w2.process.out.some((l) => l.startsWith("started ") && l.includes(`/${lost}/2 `)),
        c1,
      );
      c1.kill("SIGKILL");
      await exited(c1);
      await until("w2 to finish it", () =>
        w2.process.out.some((l) => l.startsWith("finished") && l.includes(`/${lost}/2:`)),
      );

      // 4. Resume: the finished job is kept and ingested; the run stops at its human gate.
      const c2 = start(run);
      expect(await exited(c2), c2.out.join("\n")).toBe(4);
      expect(
        c2.out.some((l) => /kept \d+ job\(s\) still in the queue/.test(l) && l.includes(`/${lost}/2`)),
      ).toBe(true);
      const evs = events(repo.path);
      const abandoned = evs.filter((e) => e.type === "packet.abandoned");
      expect(abandoned.map((e) => [e.data.packet_id, e.data.attempt])).toEqual([[lost, 1]]);
      expect(abandoned[0]?.data.reason).toMatch(/^infrastructure: the worker was lost/);
      expect(
        evs
          .filter((e) => e.type === "attempt.recorded" && e.data.packet_id === lost)
          .map((e) => e.data.attempt),
      ).toEqual([2]);
      expect(jobsInRedis(redis.port, "dwm", auth)).toEqual([]);

      // 5. Approve, finish, verify; nothing left in Redis or on the remote.
      const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
      expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
      const c3 = start(["run", runId, "--queue", queue, "--remote", remote]);
      expect(await exited(c3), c3.out.join("\n")).toBe(0);
      const verify = await dwm(repo.path, ["verify", runId]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(events(repo.path).at(-1)?.type).toBe("run.completed");
      expect(dwmRemoteRefs(tmp.path, remote)).toEqual([]);
      expect(jobsInRedis(redis.port, "dwm", auth)).toEqual([]);
      const counts = startedCounts([w1.process, w2.process]);
      expect(counts[lost]).toBe(2);
      for (const id of ["inventory", "scan_docs", "scan_lib", "scan_src", "report"])
        if (id !== lost) expect(counts[id], JSON.stringify(counts)).toBe(1);

      w2.process.kill("SIGTERM");
      expect(await exited(w2.process)).toBe(0);
    },
    240_000,
  );
});
