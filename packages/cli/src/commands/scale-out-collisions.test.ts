// Two coordinators of the same plan (the same run id) on one Redis, served by the same two
// workers, at the same time: in two repositories with a remote each, and in two clones of one
// commit sharing one remote. Each run gets its own run instance, so neither sees the other's
// jobs, results or refs; both complete, verify, and leave nothing in Redis or on the remotes.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  git,
  makeTempDir,
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
  type TempDir,
} from "@dwm/test-utils";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  auditRepo,
  BIN,
  type DwmProcess,
  dwmInProcess as dwm,
  exited,
  type JournalEvent,
  journalEvents,
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
  if (!redisServerAvailable()) {
    throw new Error(
      "redis-server is not installed (scripts/ci-setup.sh installs it: apt-get install redis-server)",
    );
  }
});

// The human gate's packet runs before its gate opens, and completes when it is approved.
const PACKETS = ["human_gate", "inventory", "report", "scan_docs", "scan_lib", "scan_src"];

function start(cwd: string, args: string[], env: Record<string, string>): DwmProcess {
  const child = startDwm(cwd, args, env);
  children.push(child);
  return child;
}

interface Fleet {
  tmp: TempDir;
  redis: RedisServer;
  log: string;
  env: Record<string, string>;
  workers: DwmProcess[];
}

/** Redis, and two workers (concurrency 2, each attempt slowed down so the two runs overlap). */
async function fleet(): Promise<Fleet> {
  const tmp = makeTempDir("dwm-collide-");
  cleanups.push(tmp.cleanup);
  const redis = await startRedisServer();
  cleanups.push(() => redis.stop());
  const log = path.join(tmp.path, "side-effects.log");
  const env = { DWM_SIDE_EFFECT_LOG: log, TMPDIR: tmp.path };
  const workers = ["w1", "w2"].map((name) =>
    start(
      tmp.path,
      // The workers append to a side-effect log outside their checkout (how the test counts real
      // executions): the OS sandbox forbids that, so these workers run without it.
      [
        "worker",
        "--queue",
        redis.url,
        "--backends",
        "shell",
        "--concurrency",
        "2",
        "--no-sandbox",
        "--name",
        name,
      ],
      { ...env, DWM_EXAMPLE_SLOW_MS: "300" },
    ),
  );
  for (const w of workers)
    await until("a worker to be ready", () => w.out.some((l) => l.includes("takes")), w);
  return { tmp, redis, log, env, workers };
}

function runIdOf(repo: string): string {
  return fs.readdirSync(path.join(repo, ".dwm", "runs"))[0] as string;
}

/** The run instance a coordinator journaled at run.opened. */
function instanceOf(evs: JournalEvent[]): string {
  const data = evs[0]?.data as { instance?: string };
  expect(evs[0]?.type).toBe("run.opened");
  expect(data.instance).toMatch(/^[0-9a-f]{32}$/);
  return data.instance as string;
}

/** Each packet was dispatched, recorded and completed once, as attempt 1 (the gate's at the end); nothing was abandoned or failed. */
function ranOnce(evs: JournalEvent[], atGate: boolean): void {
  const of = (type: string) =>
    evs
      .filter((e) => e.type === type)
      .map((e) => `${e.data.packet_id}/${e.data.attempt}`)
      .sort();
  const once = PACKETS.map((p) => `${p}/1`);
  expect(of("packet.dispatched")).toEqual(once);
  expect(of("attempt.recorded")).toEqual(once);
  expect(of("packet.completed")).toEqual(atGate ? once.filter((p) => p !== "human_gate/1") : once);
  expect(
    evs.filter(
      (e) => e.type === "packet.abandoned" || (e.type === "run.stopped" && e.data.reason === "failed"),
    ),
  ).toEqual([]);
}

/** Both coordinators at once, to their human gate; then both approved and run to completion at once. */
async function bothToCompletion(f: Fleet, runs: { repo: string; remote: string }[]): Promise<string[]> {
  const queue = (remote: string) => ["--queue", f.redis.url, "--remote", remote];
  const first = runs.map((r) => start(r.repo, ["run", "workflow.plan.json", ...queue(r.remote)], f.env));
  const codes = await Promise.all(first.map((c) => exited(c)));
  expect(codes, first.map((c) => c.out.join("\n")).join("\n----\n")).toEqual([4, 4]);
  // Nothing stays in Redis at a gate either.
  expect(jobsInRedis(f.redis.port)).toEqual([]);
  const instances = runs.map((r) => instanceOf(journalEvents(r.repo)));
  for (const r of runs) ranOnce(journalEvents(r.repo), true);
  for (const r of runs) expect((await dwm(r.repo, ["approve", runIdOf(r.repo), "human-gate"])).code).toBe(0);
  const second = runs.map((r) => start(r.repo, ["run", runIdOf(r.repo), ...queue(r.remote)], f.env));
  const ends = await Promise.all(second.map((c) => exited(c)));
  expect(ends, second.map((c) => c.out.join("\n")).join("\n----\n")).toEqual([0, 0]);
  for (const r of runs) {
    const verify = await dwm(r.repo, ["verify", runIdOf(r.repo)]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(journalEvents(r.repo).at(-1)?.type).toBe("run.completed");
    ranOnce(journalEvents(r.repo), false);
  }
  expect(jobsInRedis(f.redis.port)).toEqual([]);
  // Every packet ran once per run.
  const counts = ranCounts(f.log);
  for (const p of ["scan_docs", "scan_lib", "scan_src", "report"]) expect(counts[p]).toBe(2);
  return instances;
}

describe("two coordinators of the same plan on one Redis (real processes)", () => {
  it("two repositories with a remote each: both runs complete with their own attempts; neither remote gets the other's refs", async () => {
    const f = await fleet();
    const a = auditRepo(cleanups);
    const b = auditRepo(cleanups);
    // Another base commit (as in two different repositories).
    fs.writeFileSync(path.join(b.path, "NOTES.md"), "b\n");
    git(b.path, "add", "-A");
    git(b.path, "commit", "-q", "-m", "b");
    const runs = [a, b].map((r, i) => {
      const remote = path.join(f.tmp.path, `remote-${i}.git`);
      git(f.tmp.path, "init", "--quiet", "--bare", remote);
      return { repo: r.path, remote };
    });
    // The same plan compiles to the same run id in both.
    const [ra, rb] = runs as [(typeof runs)[number], (typeof runs)[number]];
    const { code } = await dwm(ra.repo, ["compile", "workflow.plan.json"]);
    expect(code).toBe(0);
    expect((await dwm(rb.repo, ["compile", "workflow.plan.json"])).code).toBe(0);
    expect(runIdOf(ra.repo)).toBe(runIdOf(rb.repo));
    const seen: string[][] = [[], []];
    const remoteWatch = setInterval(() => {
      for (const [i, r] of runs.entries()) seen[i]?.push(...dwmRemoteRefs(f.tmp.path, r.remote));
    }, 500);
    let instances: string[];
    try {
      instances = await bothToCompletion(f, runs);
    } finally {
      clearInterval(remoteWatch);
    }
    expect(instances[0]).not.toBe(instances[1]);
    // Each remote only ever held refs of its own run instance, and holds none now.
    runs.forEach((r, i) => {
      const mine = `refs/dwm/${runIdOf(r.repo)}/${instances[i]}/`;
      expect(seen[i]?.length).toBeGreaterThan(0);
      expect(seen[i]?.filter((ref) => !ref.startsWith(mine))).toEqual([]);
      expect(dwmRemoteRefs(f.tmp.path, r.remote)).toEqual([]);
    });
  }, 300_000);

  it("two clones of one commit sharing one remote: both runs complete with their own attempts, each merged from its own branches", async () => {
    const f = await fleet();
    const a = auditRepo(cleanups);
    const clones = makeTempDir("dwm-collide-clone-");
    cleanups.push(clones.cleanup);
    const b = path.join(clones.path, "b");
    git(clones.path, "clone", "--quiet", a.path, b);
    git(b, "config", "user.email", "b@example.com");
    git(b, "config", "user.name", "b");
    expect(git(b, "rev-parse", "HEAD")).toBe(git(a.path, "rev-parse", "HEAD"));
    const remote = path.join(f.tmp.path, "remote.git");
    git(f.tmp.path, "init", "--quiet", "--bare", remote);
    const runs = [
      { repo: a.path, remote },
      { repo: b, remote },
    ];
    const instances = await bothToCompletion(f, runs);
    expect(runIdOf(a.path)).toBe(runIdOf(b));
    expect(instances[0]).not.toBe(instances[1]);
    // Each repository holds the attempt refs of its own instance only, and no branch but the integration branch.
    runs.forEach((r, i) => {
      expect(git(r.repo, "for-each-ref", "--format=%(refname)", "refs/heads/dwm/")).toMatch(
        /^refs\/heads\/dwm\/[^/]+\/integration$/,
      );
      const branches = git(r.repo, "for-each-ref", "--format=%(refname)", "refs/dwm/")
        .split("\n")
        .filter((x) => x !== "");
      expect(branches.length).toBe(PACKETS.length);
      for (const br of branches) expect(br).toContain(`/${instances[i]}/`);
    });
    expect(dwmRemoteRefs(f.tmp.path, remote)).toEqual([]);
  }, 300_000);
});
