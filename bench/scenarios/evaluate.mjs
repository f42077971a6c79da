// Plans evaluated per second: the reference plans (../shared/reference-plans, else the
// fixture plans), and one generated 2,000-phase plan to catch super-linear rules.
// Floor, in the same run: JSON.parse + the precompiled ajv schema validation alone,
// which is the part of evaluatePlan that any validator would pay.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { median, repoRoot, writeResult } from "../lib.mjs";

const evaluator = path.join(repoRoot, "packages/plan-evaluator/dist/index.js");
const schemas = path.join(repoRoot, "schemas/dist/index.js");
const referenceDir = path.resolve(repoRoot, "../shared/reference-plans");
const fixtureDir = path.join(repoRoot, "fixtures/plan-evaluator/plans");

function texts(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
}

/** A valid activated plan with `n` phases in chains of 50, a handoff along every edge. */
function bigPlan(n) {
  const plan = JSON.parse(fs.readFileSync(path.join(fixtureDir, "activate-pipeline-audit.json"), "utf8"));
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
    for (const d of deps)
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
  plan.phases = phases;
  plan.handoffs = handoffs;
  plan.resume.cacheable_outputs = ["p0.json"];
  plan.resume.restart_points = phases.map((p) => p.id);
  plan.verification[0].evidence_required = ["p0.json"];
  plan.verification[1].evidence_required = [`p${n - 1}.json`];
  return JSON.stringify(plan);
}

/** Run `fn` over every text for `rounds` rounds; returns plans per second (median of 5). */
function rate(list, rounds, fn) {
  const samples = [];
  for (let s = 0; s < 5; s++) {
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (const t of list) fn(t);
    samples.push((list.length * rounds) / ((performance.now() - t0) / 1000));
  }
  return median(samples);
}

export async function run({ quick }) {
  const { evaluatePlan } = await import(pathToFileURL(evaluator).href);
  const { validateSchema } = await import(pathToFileURL(schemas).href);
  const { digest } = await import(pathToFileURL(path.join(repoRoot, "packages/core/dist/index.js")).href);
  const fromReferences = fs.existsSync(referenceDir);
  const plans = texts(fromReferences ? referenceDir : fixtureDir);
  for (const t of plans) if (!evaluatePlan(JSON.parse(t)).valid) throw new Error("a bench plan is invalid");
  const big = [bigPlan(quick ? 500 : 2_000)];
  const bigSc = evaluatePlan(JSON.parse(big[0]));
  if (!bigSc.valid) throw new Error(`generated plan invalid: ${JSON.stringify(bigSc.problems.slice(0, 3))}`);

  const rounds = quick ? 20 : 100;
  const floor = (t) => validateSchema("workflow-plan", JSON.parse(t));
  const full = (t) => evaluatePlan(JSON.parse(t));
  // evaluatePlan also hashes the plan (plan_digest): canonical JSON + sha256.
  const hashed = (t) => {
    const v = JSON.parse(t);
    validateSchema("workflow-plan", v);
    digest(v);
  };
  rate(plans, 5, full); // warm up both paths
  rate(plans, 5, floor);
  const refFloor = rate(plans, rounds, floor);
  const refFull = rate(plans, rounds, full);
  const refHashed = rate(plans, rounds, hashed);
  const bigFloor = rate(big, quick ? 2 : 5, floor);
  const bigHashed = rate(big, quick ? 2 : 5, hashed);
  const bigFull = rate(big, quick ? 2 : 5, full);
  // The row: evaluatePlan alone on a plan already parsed (what compilePlan does).
  const bigParsed = JSON.parse(big[0]);
  const bigAlone = rate(big, quick ? 2 : 5, () => evaluatePlan(bigParsed));
  const rows = [
    {
      case: `${plans.length} ${fromReferences ? "reference" : "fixture"} plans: parse + ajv (floor)`,
      plans_per_s: refFloor.toFixed(0),
      ratio: "1.00",
    },
    {
      case: "  parse + ajv + digest",
      plans_per_s: refHashed.toFixed(0),
      ratio: (refFloor / refHashed).toFixed(2),
    },
    {
      case: "  parse + evaluatePlan",
      plans_per_s: refFull.toFixed(0),
      ratio: (refFloor / refFull).toFixed(2),
    },
    {
      case: `${bigSc.summary.phases}-phase plan: parse + ajv (floor)`,
      plans_per_s: bigFloor.toFixed(1),
      ratio: "1.00",
    },
    {
      case: "  parse + ajv + digest",
      plans_per_s: bigHashed.toFixed(1),
      ratio: (bigFloor / bigHashed).toFixed(2),
    },
    {
      case: "  parse + evaluatePlan",
      plans_per_s: bigFull.toFixed(1),
      ratio: (bigFloor / bigFull).toFixed(2),
    },
    {
      case: "  evaluatePlan alone (plan parsed beforehand)",
      plans_per_s: bigAlone.toFixed(1),
      ratio: (bigFloor / bigAlone).toFixed(2),
    },
  ];
  for (const row of rows) row.ms_per_plan = (1000 / Number(row.plans_per_s)).toFixed(2);
  writeResult("evaluate", {
    rounds,
    rows,
    note: "ratio = floor rate / evaluatePlan rate (how many times slower than parse + schema validation)",
  });
  return rows;
}
