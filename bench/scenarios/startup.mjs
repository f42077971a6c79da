// Start-up cost of the dwm binary against the floor of starting Node at all: `dwm status --json`
// and `dwm next --json` on a 1,000-packet run, `dwm --version`, `dwm evaluate` of a reference plan and of a 1,000-phase
// plan, and `node -e 0`, timed in the same run; peak RSS of each
// from one extra run. The run is compiled and run once before timing: its seed packet with the
// shell backend, the other 999 with the dry-run backend (no worktrees), whose reviews always ask
// for a human, so the journal holds every packet's dispatch, attempt and review and the run waits
// at 999 needs-human gates, which `dwm status` folds and lists.
// With --nodes=24,… the same cases are timed with those Node.js versions too (scripts/ci-node.sh
// installs them), each against its own floor. Where Node has module.enableCompileCache (22.1+),
// which the dwm bin turns on, each dwm case is timed with the cache (in a fresh folder, written by
// one untimed run first) and without it (NODE_DISABLE_COMPILE_CACHE=1).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dwmBin, median, repoRoot, timeProcess, writeResult } from "../lib.mjs";
import { preparedNoopRun } from "../plans.mjs";

/** The plan `dwm evaluate` is timed on: a reference plan (../shared/reference-plans), else a fixture plan. */
function referencePlan() {
  const dir = path.resolve(repoRoot, "../shared/reference-plans");
  const name = "v7-controlled-frontier-result.workflow.plan.json";
  if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  return path.join(repoRoot, "fixtures/plan-evaluator/plans/activate-pipeline-audit.json");
}

/** A valid `n`-phase plan (chains of 50, a handoff along every edge), written to `file`. */
function writeLargePlan(file, n) {
  const plan = JSON.parse(
    fs.readFileSync(
      path.join(repoRoot, "fixtures/plan-evaluator/plans/activate-pipeline-audit.json"),
      "utf8",
    ),
  );
  const phases = [];
  const handoffs = [];
  for (let i = 0; i < n; i++) {
    const id = `p${i}`;
    const deps = i === 0 ? [] : i % 50 === 0 ? [`p${i - 1}`, `p${i - 50}`] : [`p${i - 1}`];
    phases.push({
      id,
      name: `Phase ${i}`,
      entry_criteria: ["inputs present"],
      exit_criteria: [`${id}.json written`],
      depends_on: deps,
      worker_ids: ["audit-worker"],
      outputs: [`${id}.json`],
    });
    for (const d of deps) {
      const artifact_schema = {
        format: "json",
        required_fields: ["findings"],
        validation_command: `test -s ${d}.json`,
      };
      handoffs.push({ from_phase: d, to_phase: id, artifact: `${d}.json`, artifact_schema });
    }
  }
  Object.assign(plan, { phases, handoffs });
  plan.resume.cacheable_outputs = ["p0.json"];
  plan.resume.restart_points = phases.map((p) => p.id);
  plan.verification[0].evidence_required = ["p0.json"];
  plan.verification[1].evidence_required = [`p${n - 1}.json`];
  fs.writeFileSync(file, JSON.stringify(plan, null, 2));
}

/** A repository holding a run of `n` packets, every packet attempted; the repo, the run's id and journal size. */
async function finishedRun(n) {
  const run = await preparedNoopRun(n, { backend: "dry-run" }, "dwm-bench-startup-");
  const out = await run.start();
  if (out.status !== "gate" || out.counts.completed !== 1) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    throw new Error(`startup bench run: ${out.status}: ${out.detail.slice(0, 200)}`);
  }
  const events = fs.readFileSync(path.join(run.runDir, "journal.jsonl"), "utf8").split("\n").length - 1;
  return { dir: run.dir, runId: run.runId, events };
}

/** What an MCP client sends first: initialize, initialized, tools/list (then it waits for the answers). */
const MCP_HANDSHAKE = `${[
  {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  },
  { jsonrpc: "2.0", method: "notifications/initialized" },
  { jsonrpc: "2.0", id: 2, method: "tools/list" },
]
  .map((m) => JSON.stringify(m))
  .join("\n")}\n`;

/** `dwm mcp` must have answered both requests (initialize, tools/list), else its time means nothing. */
function checkMcp(stdout) {
  const ids = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).id);
  if (ids.join() !== "1,2") throw new Error(`dwm mcp answered ${stdout.slice(0, 300)}`);
}

/** The Node binaries to time: this one, then one per requested major version. */
function nodeBinaries(majors = []) {
  const list = [process.execPath];
  for (const major of majors) {
    const r = spawnSync("bash", [path.join(repoRoot, "scripts/ci-node.sh"), major], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) throw new Error(`scripts/ci-node.sh ${major} failed`);
    list.push(r.stdout.trim());
  }
  return list;
}

function nodeVersion(bin) {
  return spawnSync(bin, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
}

/**
 * Times every case once per round, round after round, so that load changing during the run falls
 * on all cases alike (the machine is often shared); the median of each, and its peak RSS from one
 * more run.
 */
function roundRobin(cases, runs) {
  const times = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    cases.forEach((c, k) => {
      const t0 = performance.now();
      const r = c.input
        ? spawnSync(c.argv[0], c.argv.slice(1), { cwd: c.cwd, env: c.env, input: c.input, encoding: "utf8" })
        : spawnSync(c.argv[0], c.argv.slice(1), { cwd: c.cwd, env: c.env, stdio: "ignore" });
      times[k].push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${c.argv.join(" ")} exited ${r.status}`);
      c.check?.(r.stdout);
    });
  }
  return cases.map((c, k) => ({
    median: median(times[k]),
    peakRssMiB: timeProcess(c.argv, {
      runs: 1,
      cwd: c.cwd,
      env: c.env,
      ...(c.input ? { input: c.input, check: c.check } : {}),
    }).peakRssMiB,
  }));
}

export async function run({ quick, nodes }) {
  const runs = quick ? 3 : 15;
  const packets = quick ? 40 : 1_000;
  const binaries = nodeBinaries(nodes);
  const { dir, runId, events } = await finishedRun(packets);
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-compile-cache-"));
  try {
    const base = { ...process.env, NO_COLOR: "1" };
    delete base.NODE_COMPILE_CACHE;
    delete base.NODE_DISABLE_COMPILE_CACHE;
    const reference = referencePlan();
    const largePlan = path.join(dir, "large.workflow.plan.json");
    const largePhases = quick ? 200 : 1_000;
    writeLargePlan(largePlan, largePhases);
    const commands = [
      ["dwm --version", [dwmBin, "--version"]],
      ["dwm mcp (initialize, tools/list)", [dwmBin, "mcp"], { input: MCP_HANDSHAKE, check: checkMcp }],
      [`dwm status --json (${packets} packets, ${events} events)`, [dwmBin, "status", runId, "--json"]],
      [`dwm next --json (${packets} packets)`, [dwmBin, "next", runId, "--json"]],
      [`dwm evaluate ${path.basename(reference)}`, [dwmBin, "evaluate", reference]],
      [`dwm evaluate, ${largePhases}-phase plan`, [dwmBin, "evaluate", largePlan]],
    ];
    const cases = [];
    for (const bin of binaries) {
      const node = nodeVersion(bin);
      const floor = cases.length;
      cases.push({ what: "node -e 0 (floor)", node, floor, argv: [bin, "-e", "0"], cwd: dir, env: base });
      const hasCache =
        spawnSync(bin, ["-p", "typeof require('node:module').enableCompileCache"], {
          encoding: "utf8",
        }).stdout.trim() === "function";
      for (const [what, args, io = {}] of commands) {
        const argv = [bin, ...args];
        if (!hasCache) {
          cases.push({ what, node, floor, argv, cwd: dir, env: base, ...io });
          continue;
        }
        const env = { ...base, NODE_COMPILE_CACHE: fs.mkdtempSync(path.join(cacheRoot, "c-")) };
        spawnSync(bin, args, { cwd: dir, env, input: io.input ?? "" }); // writes the cache
        cases.push({ what: `${what}, compile cache`, node, floor, argv, cwd: dir, env, ...io });
        const off = { ...base, NODE_DISABLE_COMPILE_CACHE: "1" };
        cases.push({ what: `${what}, no compile cache`, node, floor, argv, cwd: dir, env: off, ...io });
      }
    }
    const timed = roundRobin(cases, runs);
    const rows = cases.map((c, k) => ({
      case: c.what,
      node: c.node,
      median_ms: timed[k].median.toFixed(1),
      ratio: (timed[k].median / timed[c.floor].median).toFixed(2),
      peak_rss_mib: timed[k].peakRssMiB.toFixed(0),
    }));
    writeResult("startup", {
      runs,
      packets,
      journal_events: events,
      nodes: binaries.map(nodeVersion),
      rows,
      note: "median wall time of each command over the runs, the commands taking turns round by round; each Node against its own floor; every packet of the run was attempted (seed with shell, the rest dry-run, waiting at needs-human gates), so status reads every packet and folds the whole journal. Where Node has a compile cache (22.1+), dwm turns it on: timed warm (one untimed run wrote it) and off (NODE_DISABLE_COMPILE_CACHE=1)",
    });
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(cacheRoot, { recursive: true, force: true });
  }
}
