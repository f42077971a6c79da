// The run loop (dwm run's runWorkflow) on N independent no-op shell packets at concurrency 8,
// against a floor measured in the same run: a bare Node pool of 8 doing, for each of the same N
// jobs, the git work every attempt needs (worktree add, spawn the no-op in it, status, diff,
// worktree remove; worktree admin through one queue, as ../shared/notes/git-worktrees.md says).
// Reported: wall time of each, the ratio, and DWM's own overhead per packet ((dwm - floor) / N).
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { repoRoot, writeResult } from "../lib.mjs";

const execP = promisify(execFile);
// The environment the executor gives git (PATH, HOME, C locale, no prompts), so both sides do the same work.
const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LANG: "C",
  LC_ALL: "C",
  GIT_TERMINAL_PROMPT: "0",
};
const exec = (cmd, args, opts) => execP(cmd, args, { ...opts, env: GIT_ENV });
const load = (pkg) => import(pathToFileURL(path.join(repoRoot, "packages", pkg, "dist/index.js")).href);
const CONCURRENCY = 8;

function makeRepo() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-loop-")));
  const git = (...a) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
  git("init", "-q", "-b", "main");
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(dir, `file-${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(dir, ".gitignore"), ".dwm/\n");
  git("add", "-A");
  execFileSync("git", ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init"], {
    cwd: dir,
  });
  return { dir, head: git("rev-parse", "HEAD") };
}

function plan(n) {
  const ids = Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(5, "0")}`);
  return {
    schema_version: "0.5",
    plan_id: `bench-loop-${n}`,
    created_by: "dynamic-workflow-designer",
    source_prompt: "Measure the run loop.",
    objective: `Run ${n} independent no-op packets.`,
    activation: {
      decision: "activate",
      downgrade_target: null,
      matched_thresholds: ["planned-fanout", "resumable-handoffs"],
      reason: "Many independent packets fan out.",
    },
    assumptions: [{ claim: "no-op", verification: "exit 0" }],
    budget: {
      file_touch_limit: "none",
      max_agents: CONCURRENCY,
      max_retries: 0,
      max_rounds: 1,
      time_box: "bench",
    },
    execution_path: {
      consumer: "runtime",
      mode: "runtime",
      first_slice: {
        instruction: "Do nothing.",
        inputs: ["repository path"],
        expected_output: "nothing",
        completion_check: "exit 0",
        forbidden_actions: ["edits"],
      },
    },
    handoffs: [
      {
        artifact: "seed.json",
        from_phase: ids[0],
        to_phase: ids[1] ?? ids[0],
        artifact_schema: {
          format: "json",
          required_fields: ["seed"],
          validation_command: "test -s seed.json",
        },
      },
    ],
    parallelism: { barriers: [], concurrency_cap: CONCURRENCY, fan_in_rule: "none", shape: "fan-out-fan-in" },
    patterns: ["Parallel Fan-Out / Fan-In"],
    phases: ids.map((id) => ({
      id,
      name: id,
      // One seed packet, every other packet after it (a plan must be connected).
      depends_on: id === ids[0] ? [] : [ids[0]],
      entry_criteria: ["none"],
      exit_criteria: ["exit 0"],
      outputs: id === ids[0] ? ["seed.json"] : ["nothing"],
      worker_ids: [id === ids[0] ? "seed" : "noop"],
    })),
    resume: { cacheable_outputs: ["seed.json"], invalidators: ["plan changes"], restart_points: [ids[0]] },
    risk_gates: [
      {
        requires_user_approval: true,
        safe_default: "stop before writing and ask for approval",
        trigger: "write action",
      },
    ],
    surfaces: [{ access_mode: "read-only", id: "repo", kind: "repo", locator: "." }],
    verification: [
      {
        claim_or_output: "every packet exits 0",
        evidence_required: ["attempts"],
        falsifier: "a non-zero exit",
      },
    ],
    workers: [
      {
        id: "seed",
        role: "write the seed",
        ownership: ["seed.json"],
        forbidden_actions: ["other edits"],
        prompt_contract: { inputs: ["none"], required_output_schema: "seed.json", stop_conditions: ["none"] },
        context_budget: { max_files: 1, max_tokens: 1, must_include: ["README.md"], must_exclude: [".dwm/"] },
        tool_permissions: {
          read: true,
          write: true,
          shell: false,
          network: false,
          mcp_connectors: [],
          requires_escalation_for: [],
        },
      },
      {
        id: "noop",
        role: "no-op",
        ownership: ["nothing"],
        forbidden_actions: ["edits"],
        prompt_contract: { inputs: ["none"], required_output_schema: "none", stop_conditions: ["none"] },
        context_budget: { max_files: 1, max_tokens: 1, must_include: ["README.md"], must_exclude: [".dwm/"] },
        tool_permissions: {
          read: true,
          write: false,
          shell: false,
          network: false,
          mcp_connectors: [],
          requires_escalation_for: [],
        },
      },
    ],
  };
}

/** The floor: 8 workers, worktree admin serialized, the same no-op and git reads per job. */
async function floor(n) {
  const { dir, head } = makeRepo();
  const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-floor-wt-"));
  let admin = Promise.resolve();
  const queued = (fn) => {
    const p = admin.then(fn);
    admin = p.then(
      () => {},
      () => {},
    );
    return p;
  };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const wt = path.join(wtRoot, `wt-${i}`);
        await queued(() =>
          exec("git", ["worktree", "add", "--quiet", "-B", `floor/${i}`, wt, head], { cwd: dir }),
        );
        await exec("true", [], { cwd: wt });
        await exec("git", ["status", "--porcelain"], { cwd: wt });
        await exec("git", ["diff", "HEAD"], { cwd: wt });
        await queued(() => exec("git", ["worktree", "remove", "--force", wt], { cwd: dir }));
      }
    }),
  );
  const ms = performance.now() - t0;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(wtRoot, { recursive: true, force: true });
  return ms;
}

async function dwm(n) {
  const [{ compilePlan }, { runWorkflow }, core, { parseWorkerBindings, uniformBindings }] =
    await Promise.all([load("compiler"), load("dispatcher"), load("core"), load("executor")]);
  const { dir, head } = makeRepo();
  const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-loop-wt-"));
  const compiled = compilePlan(plan(n), { repoRoot: dir, baseCommit: head });
  const b = uniformBindings({ backend: "shell", argv: ["true"] });
  b.bindings.seed = { backend: "shell", shell: true, command: `echo '{"seed":1}' > seed.json` };
  const { bindings, digest } = parseWorkerBindings(b);
  const t0 = performance.now();
  const out = await runWorkflow(
    compiled.runDir,
    {
      clock: core.systemClock,
      processRunner: core.execaProcessRunner,
      env: process.env,
      worktreeRoot: wtRoot,
    },
    // A no-op has nothing a check could falsify: approve it (the default would ask a human).
    {
      repo: dir,
      bindings,
      bindingsDigest: digest,
      concurrency: CONCURRENCY,
      unverifiable: "approve",
      approve: { categories: ["write"], approver: { name: "bench", source: "os-user" } },
    },
  );
  const ms = performance.now() - t0;
  if (out.status !== "complete") throw new Error(`runloop bench: ${out.status}: ${out.detail}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(wtRoot, { recursive: true, force: true });
  return ms;
}

export async function run({ quick }) {
  const sizes = quick ? [100] : [1000, 10000];
  const rows = [];
  for (const n of sizes) {
    const f = await floor(n);
    const d = await dwm(n);
    rows.push({
      packets: n,
      floor_ms: f.toFixed(0),
      dwm_ms: d.toFixed(0),
      ratio: (d / f).toFixed(2),
      overhead_per_packet_ms: ((d - f) / n).toFixed(2),
    });
  }
  writeResult("runloop", {
    concurrency: CONCURRENCY,
    rows,
    note: "floor = bare Node pool doing the same worktree add/no-op/status/diff/remove per job; dwm = compile excluded, runWorkflow to completion (journal fsyncs, evidence, review, integration)",
  });
  return rows;
}
