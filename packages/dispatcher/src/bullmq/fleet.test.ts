// The fleet view (dwm workers): heartbeats joined with BullMQ's registry of worker connections,
// alone and against a real redis-server with a worker running a job.
import path from "node:path";
import { nodeProcessRunner } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import {
  FakeClock,
  git,
  makeTempDir,
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from "@dwm/test-utils";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleRepo, firstAttemptRequest } from "../test-support/example.js";
import { createRedisAttemptQueue } from "./coordinator.js";
import { joinWorkers, listWorkers, registryOf } from "./fleet.js";
import type { Heartbeat } from "./heartbeat.js";
import { lanesFor } from "./names.js";
import { startAttemptWorker } from "./worker.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("registryOf: BullMQ's worker connections by client name", () => {
  it("names <prefix>:<base64 queue>:w:<worker> of attempt lanes; other prefixes, queues and clients are not workers", () => {
    const list = [
      `id=1 addr=10.0.0.2:5 name=dwm:${b64("attempts.shell")}:w:w1 age=3 cmd=bzpopmin`,
      `id=2 addr=10.0.0.2:6 name=dwm:${b64("attempts.shell")}:w:w1 age=3 cmd=evalsha`,
      `id=3 addr=10.0.0.2:7 name=dwm:${b64("attempts.codex+shell")}:w:w1 age=3`,
      `id=4 addr=10.0.0.3:8 name=dwm:${b64("attempts.codex")}:w:host-b:42 age=3`,
      `id=5 addr=10.0.0.3:9 name=team:${b64("attempts.shell")}:w:w9 age=3`,
      `id=6 addr=10.0.0.3:9 name=dwm:${b64("attempts.shell")} age=3`,
      `id=7 addr=10.0.0.3:9 name=dwm:${b64("other")}:w:x age=3`,
      "id=8 addr=10.0.0.4:1 name= age=1",
    ].join("\n");
    expect([...registryOf(list, "dwm")].map(([n, l]) => [n, [...l].sort()])).toEqual([
      ["w1", ["codex+shell", "shell"]],
      ["host-b:42", ["codex"]],
    ]);
  });

  it("joinWorkers: a heartbeat with the lanes the registry lists; a registered worker without one has nulls", () => {
    const beat: Heartbeat = {
      name: "w1",
      host: "h",
      pid: 7,
      backends: ["shell"],
      concurrency: 2,
      running: [],
      processed: 1,
      failed: 0,
      started_at: "2026-01-01T00:00:00.000Z",
      heartbeat_at: "2026-01-01T00:00:05.000Z",
    };
    const joined = joinWorkers(
      [beat],
      new Map([
        ["w1", new Set(["shell"])],
        ["old", new Set(["codex"])],
      ]),
    );
    expect(joined).toEqual([
      {
        name: "old",
        host: null,
        pid: null,
        backends: [],
        concurrency: null,
        running: [],
        started_at: null,
        heartbeat_at: null,
        registered_lanes: ["codex"],
      },
      { ...beat, registered_lanes: ["shell"] },
    ]);
  });
});

describe("listWorkers on a real Redis", () => {
  let redis: RedisServer;
  const cleanups: (() => void | Promise<void>)[] = [];
  beforeAll(async () => {
    if (!redisServerAvailable()) {
      throw new Error(
        "redis-server is not installed (scripts/ci-setup.sh installs it: apt-get install redis-server)",
      );
    }
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await redis?.stop();
  }, 120_000);

  it("a worker is listed with its heartbeat and every lane it serves, its running job while it runs, and not after it stopped", async () => {
    const clock = new FakeClock("2026-01-01T00:00:00.000Z", 1);
    const prefix = "fleet";
    const ex = exampleRepo("repo-audit");
    const tmp = makeTempDir("dwm-fleet-");
    cleanups.push(ex.repo.cleanup, tmp.cleanup);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const worker = await startAttemptWorker({
      url: redis.url,
      prefix,
      name: "w1",
      backends: ["shell", "dry-run"],
      concurrency: 2,
      processRunner: nodeProcessRunner,
      env,
      clock,
      worktreeRoot: tmp.path,
      heartbeatMs: 200,
    });
    cleanups.push(() => worker.close());
    const list = () => listWorkers({ url: redis.url, prefix, clock });

    const idle = await list();
    expect(validateSchema("worker-list", idle).ok).toBe(true);
    expect(idle.queue).toBe(redis.url);
    expect(idle.workers.map((w) => [w.name, w.pid, w.backends, w.concurrency, w.running])).toEqual([
      ["w1", process.pid, ["dry-run", "shell"], 2, []],
    ]);
    expect(idle.workers[0]?.registered_lanes).toEqual(lanesFor(["shell", "dry-run"]));
    // The same lanes as BullMQ's own Queue.getWorkers.
    const client = new Redis({ port: redis.port, maxRetriesPerRequest: null });
    const q = new Queue("attempts.shell", { connection: client, prefix });
    cleanups.push(() => q.close().then(() => client.disconnect()));
    expect(new Set((await q.getWorkers()).map((c) => String(c.rawname).split(":w:")[1]))).toEqual(
      new Set(["w1"]),
    );
    expect((await listWorkers({ url: redis.url, prefix: "other", clock })).workers).toEqual([]);

    // A job that runs a while: listed as running until it is done.
    const remote = path.join(tmp.path, "remote.git");
    git(tmp.path, "init", "--quiet", "--bare", remote);
    const coordinator = createRedisAttemptQueue({
      url: redis.url,
      prefix,
      run: { runId: ex.compiled.runId, instance: "0f1e2d3c4b5a69788796a5b4c3d2e1f0" },
      remote,
      repo: ex.repo.path,
      runDir: ex.compiled.runDir,
      processRunner: nodeProcessRunner,
      env,
      clock,
      pollMs: 100,
    });
    cleanups.push(() => coordinator.dispose());
    const request = firstAttemptRequest(ex);
    coordinator.enqueue({
      job_id: `${request.run_id}/${request.packet.packet_id}/1`,
      request: {
        ...request,
        binding: { ...request.binding, workers: { "*": { backend: "shell", argv: ["sleep", "2"] } } },
      },
    });
    let running: string[] = [];
    for (let i = 0; i < 200 && running.length === 0; i++) {
      running = (await list()).workers[0]?.running.map((r) => `${r.job_id} ${r.lane}`) ?? [];
      if (running.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running).toEqual([
      `${request.run_id}/0f1e2d3c4b5a69788796a5b4c3d2e1f0/${request.packet.packet_id}/1 shell`,
    ]);
    expect((await coordinator.next())?.status).toBe("done");
    const after = (await list()).workers[0];
    expect([after?.running, after?.processed]).toEqual([[], 1]);

    // An ACL user without CLIENT LIST sees the heartbeats only.
    await client.call("ACL", "SETUSER", "viewer", "on", ">viewer-pw", "~*", "+@all", "-client");
    const viewer = redis.url.replace("redis://", "redis://viewer:viewer-pw@");
    const seen = await listWorkers({ url: viewer, prefix, clock });
    expect(seen.workers.map((w) => [w.name, w.registered_lanes])).toEqual([["w1", []]]);

    await worker.close();
    expect((await list()).workers).toEqual([]);
  }, 120_000);
});
