// Shared fixtures of the run-loop scenarios: a small git repository and a plan of N independent
// no-op packets (one seed packet that writes seed.json, every other packet after it, because a
// plan must be connected).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "./lib.mjs";

export const CONCURRENCY = 8;

/** A repository with 50 small files and `.dwm/` ignored; `{ dir, head }`. */
export function makeRepo(prefix = "dwm-bench-loop-") {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
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

const NOOP_WORKER = {
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
};

/**
 * The parts every bench plan shares (a connected plan of no-op work on a read-only repository,
 * a `noop` worker, a write gate), with `fields` (phases, handoffs, …) laid over them.
 */
export function benchPlan(fields) {
  return {
    schema_version: "0.5",
    created_by: "dynamic-workflow-designer",
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
    parallelism: { barriers: [], concurrency_cap: CONCURRENCY, fan_in_rule: "none", shape: "fan-out-fan-in" },
    patterns: ["Parallel Fan-Out / Fan-In"],
    risk_gates: [
      {
        requires_user_approval: true,
        safe_default: "stop before writing and ask for approval",
        trigger: "write action",
      },
    ],
    surfaces: [{ access_mode: "read-only", id: "repo", kind: "repo", locator: "." }],
    workers: [NOOP_WORKER],
    ...fields,
  };
}

/**
 * A plan of `n` packets: `p00001` (worker `seed`) writes seed.json, `p00002`… (worker `noop`)
 * depend on it. With `verify`, the packets nothing depends on carry that verification command,
 * so their review has something that could falsify it (no human needed for a no-op).
 */
export function noopPlan(n, { verify = null } = {}) {
  const ids = Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(5, "0")}`);
  return benchPlan({
    plan_id: `bench-loop-${n}`,
    source_prompt: "Measure the run loop.",
    objective: `Run ${n} independent no-op packets.`,
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
    verification: [
      {
        claim_or_output: "every packet exits 0",
        evidence_required: verify === null ? ["attempts"] : ["attempts", verify],
        falsifier: "a non-zero exit",
      },
    ],
    workers: [
      {
        ...NOOP_WORKER,
        id: "seed",
        role: "write the seed",
        ownership: ["seed.json"],
        forbidden_actions: ["other edits"],
        prompt_contract: { ...NOOP_WORKER.prompt_contract, required_output_schema: "seed.json" },
        tool_permissions: { ...NOOP_WORKER.tool_permissions, write: true },
      },
      NOOP_WORKER,
    ],
  });
}

/**
 * `plan` compiled in a new repository; `start(ports)` runs it with runWorkflow at concurrency 8
 * under `bindingsDoc`, approving gates of `categories` and what a no-op cannot have falsified
 * (the default would ask a human). `{ dir, runDir, runId, start }`.
 */
export async function preparedRun(plan, bindingsDoc, { prefix, categories = ["write"] } = {}) {
  const [
    { compilePlan },
    { runWorkflow },
    core,
    { parseWorkerBindings },
    { testOperatorKey, testTrust, trustTestOperator },
  ] = await Promise.all([
    load("compiler"),
    load("dispatcher"),
    load("core"),
    load("executor"),
    load("test-utils"),
  ]);
  const { dir, head } = makeRepo(prefix);
  const compiled = compilePlan(plan, { repoRoot: dir, baseCommit: head });
  // The repository trusts the operator key the runner signs with, so `dwm status` and `dwm
  // verify` on the run find its approvals and attestations intact (dwm.operators.json).
  trustTestOperator(dir);
  const { bindings, digest } = parseWorkerBindings(bindingsDoc);
  const start = (ports = {}) =>
    runWorkflow(
      compiled.runDir,
      { clock: core.systemClock, processRunner: core.nodeProcessRunner, env: process.env, ...ports },
      {
        repo: dir,
        // The runner signs every approval and attestation: part of what is measured.
        operator: { key: testOperatorKey(), trust: testTrust() },
        bindings,
        bindingsDigest: digest,
        concurrency: CONCURRENCY,
        unverifiable: "approve",
        approve: { categories, approver: { name: "bench", source: "os-user" } },
      },
    );
  return { dir, head, runDir: compiled.runDir, runId: compiled.runId, compiled, start };
}

/**
 * A new repository with `noopPlan(n)` compiled in it, the seed bound to the shell backend and
 * every other packet to `noop`; `start(ports)` runs it (see preparedRun).
 */
export async function preparedNoopRun(n, noop, prefix) {
  const { uniformBindings } = await load("executor");
  const b = uniformBindings(noop);
  b.bindings.seed = { backend: "shell", shell: true, command: `echo '{"seed":1}' > seed.json` };
  return preparedRun(noopPlan(n), b, { prefix });
}
