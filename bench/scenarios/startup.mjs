// Start-up cost of the dwm binary against the floor of starting Node at all: `dwm status --json`
// on a 1,000-packet run, `dwm --version`, and `node -e 0`, timed in the same run; peak RSS of each
// from one extra run. The run is compiled and run once before timing: its seed packet with the
// shell backend, the other 999 with the dry-run backend (no worktrees), whose reviews always ask
// for a human, so the journal holds every packet's dispatch, attempt and review and the run waits
// at 999 needs-human gates, which `dwm status` folds and lists.
import fs from "node:fs";
import path from "node:path";
import { dwmBin, repoRoot, timeProcess, writeResult } from "../lib.mjs";
import { preparedNoopRun } from "../plans.mjs";

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

export async function run({ quick }) {
  const runs = quick ? 3 : 15;
  const packets = quick ? 40 : 1_000;
  const { dir, runId, events } = await finishedRun(packets);
  try {
    const env = { ...process.env, NO_COLOR: "1" };
    const floor = timeProcess([process.execPath, "-e", "0"], { runs, env });
    const version = timeProcess([process.execPath, dwmBin, "--version"], { runs, env });
    const status = timeProcess([process.execPath, dwmBin, "status", runId, "--json"], {
      runs,
      cwd: dir,
      env,
    });
    const reference = referencePlan();
    const evaluate = timeProcess([process.execPath, dwmBin, "evaluate", reference], { runs, env });
    const largePlan = path.join(dir, "large.workflow.plan.json");
    const largePhases = quick ? 200 : 1_000;
    writeLargePlan(largePlan, largePhases);
    const evaluateLarge = timeProcess([process.execPath, dwmBin, "evaluate", largePlan], { runs, env });
    const row = (what, t) => ({
      case: what,
      median_ms: t.median.toFixed(1),
      ratio: (t.median / floor.median).toFixed(2),
      peak_rss_mib: t.peakRssMiB.toFixed(0),
    });
    const rows = [
      row("node -e 0 (floor)", floor),
      row("dwm --version", version),
      row(`dwm status --json (${packets} packets, ${events} events)`, status),
      row(`dwm evaluate ${path.basename(reference)}`, evaluate),
      row(`dwm evaluate, ${largePhases}-phase plan`, evaluateLarge),
    ];
    writeResult("startup", {
      runs,
      packets,
      journal_events: events,
      rows,
      note: "median wall time of each command over the runs; every packet of the run was attempted (seed with shell, the rest dry-run, waiting at needs-human gates), so status reads every packet and folds the whole journal",
    });
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
