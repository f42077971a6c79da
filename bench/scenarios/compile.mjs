// Compile time and peak memory of a generated 10,000-phase plan, against the floor of
// writing the same files (same count, same sizes) with plain fs in the same run.
// Each measurement runs in a fresh Node process so its peak RSS is its own. Every compile
// goes into a fresh repository; the run stores they write must be byte-identical.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { child, median, repoRoot, writeResult } from "../lib.mjs";

const compilerDist = path.join(repoRoot, "packages/compiler/dist/index.js");
const basePlan = path.join(repoRoot, "fixtures/compiler/plans/readonly.workflow.plan.json");

/** A valid plan with `n` phases: 100-phase chains joined by fan-in phases, a handoff along every edge. */
function generatePlan(n) {
  const plan = JSON.parse(fs.readFileSync(basePlan, "utf8"));
  plan.plan_id = `bench-${n}-phases`;
  const workerIds = plan.workers.map((w) => w.id);
  const phases = [];
  const handoffs = [];
  for (let i = 0; i < n; i++) {
    const id = `phase-${String(i).padStart(5, "0")}`;
    const deps = [];
    if (i > 0 && i % 100 !== 0) deps.push(phases[i - 1].id);
    if (i > 0 && i % 100 === 0) deps.push(phases[i - 1].id, phases[i - 100].id);
    phases.push({
      id,
      name: `Phase ${i}`,
      entry_criteria: [`inputs of ${id} are present`],
      exit_criteria: [`${id}.json lists its findings`],
      depends_on: deps,
      worker_ids: [workerIds[i % workerIds.length]],
      outputs: [`${id}.json`],
    });
    for (const d of deps) {
      handoffs.push({
        from_phase: d,
        to_phase: id,
        artifact: `${d}.json`,
        artifact_schema: {
          format: "json",
          required_fields: ["findings"],
          validation_command: `test -s ${d}.json`,
        },
      });
    }
  }
  plan.phases = phases;
  plan.handoffs = handoffs;
  plan.resume.restart_points = [phases[0].id];
  plan.resume.cacheable_outputs = [`${phases[0].id}.json`];
  plan.verification = [
    {
      claim_or_output: "every phase reports findings",
      falsifier: "a phase file is empty",
      evidence_required: [`${phases[0].id}.json`],
    },
  ];
  return plan;
}

// One compile per process, so each peak RSS is that compile's own: a new run, or a
// recompile of the unchanged plan into the run a previous process wrote.
const COMPILE = `
import fs from "node:fs";
const [dist, planFile, repo] = process.argv.slice(1);
const { compilePlan } = await import(dist);
const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
const t0 = performance.now();
const c = compilePlan(plan, { repoRoot: repo, baseCommit: null });
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, rssMiB: process.resourceUsage().maxRSS / 1024, packets: c.packets.length, created: c.created, changed: c.changes ? c.changes.changed.length + c.changes.added.length : 0, runDir: c.runDir }));
`;

const FLOOR = `
import fs from "node:fs";
import path from "node:path";
const [listFile, outDir] = process.argv.slice(1);
const files = JSON.parse(fs.readFileSync(listFile, "utf8"));
const t0 = performance.now();
for (const [rel, bytes] of files) {
  const f = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const fd = fs.openSync(f, "wx");
  fs.writeFileSync(fd, "x".repeat(bytes));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}
console.log(JSON.stringify({ ms: performance.now() - t0, rssMiB: process.resourceUsage().maxRSS / 1024 }));
`;

function listFiles(dir, rel = "", out = []) {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.statSync(path.join(dir, r));
    if (st.isDirectory()) listFiles(dir, r, out);
    else out.push([r, st.size]);
  }
  return out;
}

/** One digest over every file's relative path and bytes. */
function treeDigest(dir, files) {
  const h = createHash("sha256");
  for (const [rel] of files)
    h.update(`${rel}\0`)
      .update(fs.readFileSync(path.join(dir, rel)))
      .update("\0");
  return h.digest("hex");
}

export async function run({ quick }) {
  const phases = quick ? 500 : 10_000;
  const runs = quick ? 2 : 3;
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-compile-")));
  try {
    const planFile = path.join(tmp, "plan.json");
    fs.writeFileSync(planFile, JSON.stringify(generatePlan(phases)));
    const compiles = [];
    const floors = [];
    for (let i = 0; i < runs; i++) {
      const repo = path.join(tmp, `repo-${i}`);
      fs.mkdirSync(repo);
      const c = child(COMPILE, [compilerDist, planFile, repo]);
      if (c.packets !== phases || !c.created) throw new Error(`compiled ${c.packets} packets`);
      const list = listFiles(c.runDir);
      const digest = treeDigest(c.runDir, list);
      const again = child(COMPILE, [compilerDist, planFile, repo]);
      if (again.created || again.changed !== 0 || treeDigest(c.runDir, list) !== digest) {
        throw new Error("recompiling the same plan changed the run");
      }
      compiles.push({
        ...c,
        treeDigest: digest,
        runDirName: path.relative(repo, c.runDir),
        recompileMs: again.ms,
        recompileRssMiB: again.rssMiB,
      });
      const listFile = path.join(tmp, `files-${i}.json`);
      fs.writeFileSync(listFile, JSON.stringify(list));
      floors.push(child(FLOOR, [listFile, path.join(tmp, `floor-${i}`)]));
    }
    const files = listFiles(compiles[0].runDir).length;
    // Byte-identical: the same run directory name and the same bytes in every file, every time.
    const identical = compiles.every(
      (c) => c.treeDigest === compiles[0].treeDigest && c.runDirName === compiles[0].runDirName,
    );
    if (!identical) throw new Error("compiling the same plan twice gave different run stores");
    const cMs = median(compiles.map((c) => c.ms));
    const rMs = median(compiles.map((c) => c.recompileMs));
    const rRss = median(compiles.map((c) => c.recompileRssMiB));
    const fMs = median(floors.map((f) => f.ms));
    const cRss = median(compiles.map((c) => c.rssMiB));
    const fRss = median(floors.map((f) => f.rssMiB));
    const rows = [
      {
        case: `write ${files} files with fs (floor)`,
        median_ms: fMs.toFixed(0),
        ratio: "1.00",
        peak_rss_mib: fRss.toFixed(0),
        rss_ratio: "1.00",
      },
      {
        case: `compile ${phases} phases (new run)`,
        median_ms: cMs.toFixed(0),
        ratio: (cMs / fMs).toFixed(2),
        peak_rss_mib: cRss.toFixed(0),
        rss_ratio: (cRss / fRss).toFixed(2),
      },
      {
        case: "recompile unchanged plan",
        median_ms: rMs.toFixed(0),
        ratio: (rMs / fMs).toFixed(2),
        peak_rss_mib: rRss.toFixed(0),
        rss_ratio: (rRss / fRss).toFixed(2),
      },
    ];
    writeResult("compile", {
      phases,
      files,
      runs,
      byte_identical: identical,
      run_store_sha256: compiles[0].treeDigest,
      rows,
      note: "floor: the same files, same sizes, written with openSync/writeFileSync/fsync in one process; compile includes plan evaluation, schema validation of every packet and gate, rendering and digests; each compile runs in its own process into a fresh repository and every run store is byte-identical (one digest over all paths and bytes); the recompile reads and compares every file and writes none",
    });
    return rows;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
