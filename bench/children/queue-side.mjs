// One side of the queue scenario in a process of its own:
//   node queue-side.mjs pool N 0 C S       runWorkflow on N shell packets, in-process pool of C
//   node queue-side.mjs redis N W C S      the same run as coordinator (dwm run --queue): a private
//                                          redis-server, a bare remote, W `dwm worker` processes of
//                                          concurrency C each (the run's cap of 8 holds across them)
// Each packet runs `true` (S = 0: no-op, CPU-bound through the git transport) or `sleep S`.
// Worker start-up is not timed; the run is. Prints one JSON line: { ms, packets_per_s, loadavg }.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { dwmBin, load, repoRoot } from "../lib.mjs";
import { CONCURRENCY, makeRepo, noopPlan } from "../plans.mjs";

async function startWorkers(url, w, perWorker, tmp) {
  const procs = [];
  for (let i = 0; i < w; i++) {
    const p = spawn(
      process.execPath,
      [
        dwmBin,
        "worker",
        "--queue",
        url,
        "--backends",
        "shell",
        "--concurrency",
        String(perWorker),
        "--name",
        `w${i + 1}`,
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await new Promise((resolve, reject) => {
      let out = "";
      p.stdout.on("data", (d) => {
        out += d;
        if (out.includes(" takes ")) resolve();
      });
      p.once("exit", (code) => reject(new Error(`dwm worker exited ${code} before it was ready`)));
    });
    p.stdout.resume();
    procs.push(p);
  }
  return procs;
}

async function side(kind, n, w, perWorker, sleepS) {
  const [{ compilePlan }, { newRunInstance, runWorkflow }, core, { parseWorkerBindings, uniformBindings }] =
    await Promise.all([load("compiler"), load("dispatcher"), load("core"), load("executor")]);
  const { dir, head } = makeRepo("dwm-bench-queue-");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-queue-tmp-"));
  const compiled = compilePlan(noopPlan(n), { repoRoot: dir, baseCommit: head });
  const b = uniformBindings({ backend: "shell", argv: sleepS > 0 ? ["sleep", String(sleepS)] : ["true"] });
  b.bindings.seed = { backend: "shell", shell: true, command: `echo '{"seed":1}' > seed.json` };
  const { bindings, digest } = parseWorkerBindings(b);
  const ports = {
    clock: core.systemClock,
    processRunner: core.nodeProcessRunner,
    env: process.env,
    worktreeRoot: tmp,
  };
  let redis = null;
  let workers = [];
  if (kind === "redis") {
    const { startRedisServer } = await load("test-utils");
    const bullmq = await import(
      pathToFileURL(path.join(repoRoot, "packages/dispatcher/dist/bullmq/index.js")).href
    );
    redis = await startRedisServer();
    const remote = path.join(tmp, "remote.git");
    execFileSync("git", ["init", "--quiet", "--bare", remote]);
    workers = await startWorkers(redis.url, w, perWorker, tmp);
    ports.runInstance = newRunInstance;
    ports.queue = (_execute, _cap, run) =>
      bullmq.createRedisAttemptQueue({
        url: redis.url,
        run,
        remote,
        repo: dir,
        runDir: compiled.runDir,
        processRunner: core.nodeProcessRunner,
        env: process.env,
        clock: core.systemClock,
      });
  }
  const load0 = os.loadavg()[0];
  const t0 = performance.now();
  const { testOperatorKey, testTrust } = await load("test-utils");
  const out = await runWorkflow(compiled.runDir, ports, {
    repo: dir,
    operator: { key: testOperatorKey(), trust: testTrust() },
    bindings,
    bindingsDigest: digest,
    concurrency: kind === "pool" ? perWorker : CONCURRENCY,
    unverifiable: "approve",
    approve: { categories: ["write"], approver: { name: "bench", source: "os-user" } },
  });
  const ms = performance.now() - t0;
  const load1 = os.loadavg()[0];
  if (out.status !== "complete") throw new Error(`queue bench (${kind}): ${out.status}: ${out.detail}`);
  for (const p of workers) p.kill("SIGTERM");
  await Promise.all(workers.map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once("exit", r)))));
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  return { ms, packets_per_s: n / (ms / 1000), loadavg: [load0, load1].map((x) => Number(x.toFixed(2))) };
}

const [kind, n, w, perWorker, sleepS] = process.argv.slice(2);
console.log(
  JSON.stringify(
    await side(kind, Number(n), Number(w ?? 0), Number(perWorker ?? CONCURRENCY), Number(sleepS ?? 0)),
  ),
);
