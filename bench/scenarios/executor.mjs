// Per-attempt overhead of the executor (checkout, evidence, DWM's commit, attempt.json) against
// two floors measured in the same run: spawning the same no-op command directly, and the bare
// git work every attempt needs (a checkout by git init + alternates + read-tree, the no-op in
// it, status, removal). And the OS sandbox's cost, measured in the same run: the no-op spawned
// in bubblewrap against the bare spawn, and runAttempt with bubblewrap against runAttempt without.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { median, repoRoot, writeResult } from "../lib.mjs";

const load = (pkg) => import(pathToFileURL(path.join(repoRoot, "packages", pkg, "dist/index.js")).href);

function makeRepo() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-repo-")));
  const git = (...a) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
  git("init", "-q", "-b", "main");
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(dir, `file-${i}.txt`), `file ${i}\n`);
  git("add", "-A");
  execFileSync("git", ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init"], {
    cwd: dir,
  });
  return { dir, head: git("rev-parse", "HEAD") };
}

function packet() {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: "noop",
    plan_id: "bench",
    phase: { id: "noop", name: "No-op", entry_criteria: [], exit_criteria: [], outputs: [] },
    objective: "Measure the executor.",
    instruction: "Do nothing.",
    depends_on: [],
    workers: [
      {
        id: "w",
        role: "no-op",
        tool_permissions: {
          read: true,
          write: true,
          shell: true,
          network: false,
          mcp_connectors: [],
          requires_escalation_for: [],
        },
        ownership: ["**"],
        forbidden_actions: [],
        prompt_contract: { inputs: [], required_output_schema: "none", stop_conditions: [] },
        context_budget: { max_files: 1, max_tokens: 1, must_include: [], must_exclude: [] },
      },
    ],
    inputs: [],
    outputs: [],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 0 },
    stop_conditions: [],
    completion_check: null,
  };
}

export async function run({ quick }) {
  const runs = quick ? 8 : 30;
  const core = await load("core");
  const { runAttempt } = await load("executor");
  const repo = makeRepo();
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-exec-")));
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? work };
  const time = async (fn) => {
    const xs = [];
    await fn(-1); // warm-up
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await fn(i);
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  try {
    const direct = await time(() => core.nodeProcessRunner.run({ argv: ["true"], cwd: repo.dir, env }));
    const sandbox = core.bubblewrapSandbox();
    const probe = await sandbox.probe();
    const view = { binds: [{ source: repo.dir, writable: true }], hidden: [], network: "none" };
    const inSandbox = probe.ok
      ? await time(async () => {
          const prepared = await sandbox.prepare({ argv: ["true"], cwd: repo.dir, env }, view);
          await core.nodeProcessRunner.run(prepared.request);
          await prepared.dispose();
        })
      : null;
    const objects = path.join(repo.dir, ".git", "objects");
    const bareGit = await time((i) => {
      const wt = path.join(work, `bare-${i + 1}`);
      const g = (cwd, ...a) => spawnSync("git", a, { cwd, env });
      fs.mkdirSync(wt);
      g(wt, "init", "-q", "--template=", ".");
      fs.mkdirSync(path.join(wt, ".git", "objects", "info"), { recursive: true });
      fs.writeFileSync(path.join(wt, ".git", "objects", "info", "alternates"), `${objects}\n`);
      g(wt, "read-tree", "--reset", "-u", repo.head);
      spawnSync("true", [], { cwd: wt, env });
      g(wt, "status", "--porcelain");
      fs.rmSync(wt, { recursive: true, force: true });
    });
    const p = packet();
    const binding = { backend: "shell", argv: ["true"] };
    let n = 1;
    const attempt = (withSandbox) =>
      runAttempt(
        {
          kind: "attempt-request",
          schema_version: "1",
          run_id: "bench",
          packet: p,
          prompt: "Do nothing.\n",
          attempt: ++n,
          base_commit: repo.head,
          binding: { bindings_digest: core.digest({ "*": binding }), workers: { w: binding } },
          inputs: [],
          repair_context: null,
          repo: repo.dir,
          limits: { timeout_ms: 60_000 },
        },
        {
          processRunner: core.nodeProcessRunner,
          clock: core.systemClock,
          attemptDir: path.join(work, "attempts", String(n)),
          env,
          worktreeRoot: work,
          ...(withSandbox ? { sandbox } : {}),
        },
      );
    const executor = await time(() => attempt(false));
    const sandboxed = probe.ok ? await time(() => attempt(true)) : null;
    const rows = [
      { case: "spawn `true` directly (floor)", median_ms: direct.toFixed(1), ratio: "1.00" },
      {
        case: "spawn `true` in bubblewrap",
        median_ms: inSandbox === null ? `n/a (${probe.reason})` : inSandbox.toFixed(1),
        ratio: inSandbox === null ? "" : (inSandbox / direct).toFixed(2),
      },
      {
        case: "bare git: checkout (init + alternates + read-tree)/status/remove + `true`",
        median_ms: bareGit.toFixed(1),
        ratio: (bareGit / direct).toFixed(2),
      },
      {
        case: "runAttempt (shell `true`), no sandbox",
        median_ms: executor.toFixed(1),
        ratio: (executor / direct).toFixed(2),
      },
      {
        case: "runAttempt (shell `true`), bubblewrap",
        median_ms: sandboxed === null ? "n/a" : sandboxed.toFixed(1),
        ratio: sandboxed === null ? "" : (sandboxed / direct).toFixed(2),
      },
      {
        case: "sandbox cost per attempt (bubblewrap - none)",
        median_ms: sandboxed === null ? "n/a" : (sandboxed - executor).toFixed(1),
        ratio: "",
      },
      { case: "runAttempt / bare git", median_ms: "", ratio: (executor / bareGit).toFixed(2) },
    ];
    writeResult("executor", {
      runs,
      rows,
      note: "50-file repository; runAttempt adds repository snapshots, DWM's staging and commit, the fetch of the branch, diff.patch, evidence digests and attempt.json to the bare git work; the sandbox rows spawn the same no-op through bubblewrapSandbox (pids limit included)",
    });
    return rows;
  } finally {
    fs.rmSync(repo.dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}
