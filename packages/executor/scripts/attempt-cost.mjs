// The cost of one fan-out command item's attempt, in a checkout of its own and in the shared
// read-only view, on a generated repository (default 2,000 files, 20 MB), with the bubblewrap
// sandbox: `node packages/executor/scripts/attempt-cost.mjs [items] [files] [concurrency] [view]`
// after `pnpm build` (`view`: the shared view only, without the slow checkout side). Prints ms per item both ways and where the time of one attempt goes (git commands
// by subcommand, the sandboxed command, the rest). Not a bench row (bench/ has `pnpm bench
// fanout`); a measurement to see what the view saves.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bubblewrapSandbox, digest, nodeProcessRunner } from "@dwm/core";

// DWM_COST_EXECUTOR: another build's dist/index.js (main's, say) to compare with in the same sitting.
const { createGit, createSharedViews, runAttempt } = await import(
  process.env.DWM_COST_EXECUTOR ? path.resolve(process.env.DWM_COST_EXECUTOR) : "@dwm/executor"
);

const items = Number(process.argv[2] ?? 40);
const files = Number(process.argv[3] ?? 2000);
const concurrency = Number(process.argv[4] ?? 1);
const viewOnly = process.argv[5] === "view";
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-attempt-cost-")));
const repo = path.join(tmp, "repo");
const git = (...args) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();

fs.mkdirSync(repo);
git("init", "-q", "-b", "main");
const block = Buffer.alloc(10 * 1024, "x\n");
for (let i = 0; i < files; i++) {
  const f = path.join(repo, "src", `d${i % 40}`, `f${i}.txt`);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, Buffer.concat([Buffer.from(`file ${i}\n`), block]));
}
git("add", "-A");
execFileSync("git", ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "base"], { cwd: repo });
const base = git("rev-parse", "HEAD");

/** Time spent per git subcommand and in the worker's sandbox, summed over every attempt. */
const spent = new Map();
let gitProcesses = 0;
const add = (k, ms) => spent.set(k, (spent.get(k) ?? 0) + ms);
const inner = createGit(nodeProcessRunner, process.env);
const timedGit = {
  async run(cwd, args, o) {
    gitProcesses++;
    const t = performance.now();
    try {
      return await inner.run(cwd, args, o);
    } finally {
      add(
        `git ${args.find((a) => !a.startsWith("-") && !a.includes("=")) ?? args[0]}`,
        performance.now() - t,
      );
    }
  },
  admin: inner.admin,
};
const runner = {
  async run(req) {
    const t = performance.now();
    try {
      return await nodeProcessRunner.run(req);
    } finally {
      if (!req.argv.includes("git") || req.argv[0] !== "git")
        add("worker + checks (sandboxed)", performance.now() - t);
    }
  },
};
const sandbox = bubblewrapSandbox();
if (!(await sandbox.probe()).ok) throw new Error("bubblewrap is needed");

function request(n) {
  const id = `check/f${n}-${(n + 0x10000000).toString(16).slice(0, 8)}`;
  const packet = {
    kind: "packet",
    schema_version: "1",
    packet_id: id,
    plan_id: "cost",
    phase: { id: "check", name: "Check", entry_criteria: [], exit_criteria: [], outputs: ["out.json"] },
    objective: "no-op item",
    instruction: "write out.json",
    depends_on: [],
    workers: [],
    command: { script: 'mkdir -p "$DWM_PACKET_ID" && echo "{}" > "$DWM_PACKET_ID/out.json"' },
    inputs: [],
    outputs: [{ artifact: `${id}/out.json`, format: "json", required_fields: [] }],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 1 },
    stop_conditions: [],
    completion_check: null,
    fanout: {
      role: "item",
      template: "check",
      template_digest: `sha256:${"0".repeat(64)}`,
      first: "check",
      key: `f${n}`,
      item: { file: `f${n}` },
      item_digest: `sha256:${"1".repeat(64)}`,
      source_packet: "list",
      reduce: "report",
    },
  };
  const bindings = { kind: "worker-bindings", schema_version: "1", bindings: {} };
  return {
    kind: "attempt-request",
    schema_version: "1",
    run_id: "cost-0123456789ab",
    packet,
    prompt: "# item\n",
    attempt: 1,
    base_commit: base,
    binding: { bindings_digest: digest(bindings), workers: {} },
    inputs: [],
    repair_context: null,
    repo,
    limits: {},
  };
}

async function measure(label, views, offset) {
  spent.clear();
  gitProcesses = 0;
  const store = path.join(tmp, `store-${label}`);
  const t0 = performance.now();
  const each = [];
  let next = 0;
  const lane = async () => {
    while (next < items) {
      const n = offset + next++;
      const t = performance.now();
      const a = await runAttempt(request(n), {
        processRunner: runner,
        clock: { now: () => "2026-01-01T00:00:00.000Z", monotonicMs: () => performance.now() },
        attemptDir: path.join(store, String(n)),
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        git: timedGit,
        sandbox,
        worktreeRoot: tmp,
        ...(views ? { views } : {}),
      });
      if (a.outcome !== "ok" || a.changed_files.length !== 1)
        throw new Error(`${label} item ${n}: ${a.outcome}`);
      each.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const wall = performance.now() - t0;
  each.sort((a, b) => a - b);
  const per = [...spent].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / items).toFixed(1)}`);
  console.log(
    `${label}: ${items} items, concurrency ${concurrency}: ${(wall / items).toFixed(1)} ms/item wall, attempt median ${each[Math.floor(each.length / 2)].toFixed(1)} ms`,
  );
  console.log(`  git commands DWM started per item: ${(gitProcesses / items).toFixed(1)}`);
  console.log(`  per item (ms, summed over lanes): ${per.join(", ")}`);
}

const size = execFileSync("du", ["-sm", "--exclude=.git", repo], { encoding: "utf8" }).split("\t")[0];
console.log(`repository: ${files} files, ${size} MB; bubblewrap sandbox; node ${process.version}`);
if (!viewOnly) await measure("checkout", null, 0);
const views = createSharedViews(path.join(tmp, "views"));
await measure("view", views, 100000);
views.close();
fs.rmSync(tmp, { recursive: true, force: true });
