import fs from "node:fs";
import path from "node:path";
import {
  canonicalArtifact,
  type Digest,
  digest,
  readArtifact,
  renderArtifact,
  resolveInside,
} from "@dwm/core";
import { evaluatePlan } from "@dwm/plan-evaluator";
import {
  type ChangeReport,
  type Gate,
  type Packet,
  type Run,
  type RunMarker,
  type Scorecard,
  validateSchema,
  type WorkflowPlan,
} from "@dwm/schemas";
import { compilerErrors } from "./errors.js";
import { type BuiltRun, buildRun, coverageCategories } from "./internal/build.js";
import type { PlanView } from "./internal/plan.js";
import {
  assertOwned,
  MARKER_FILE,
  makeRunId,
  publishNewRun,
  type RunFile,
  resolveStore,
  runsForPlan,
  updateRun,
} from "./internal/store.js";
import { COMPILER_VERSION } from "./version.js";

export interface CompileOptions {
  /** Absolute path of the repository that holds the run store. */
  repoRoot: string;
  /** Store root relative to `repoRoot` (default `.dwm/runs`); never absolute, never `..`, no symlinks. */
  storeDir?: string | undefined;
  /** `git rev-parse HEAD` of the repository, null outside git. Kept from the existing run on recompile. */
  baseCommit: string | null;
  /** Compile into this run id (created when absent). */
  runId?: string | undefined;
  /** Make a new run even when the store has a run of this plan id. */
  newRun?: boolean | undefined;
  /**
   * Called once the run directory is chosen and its ownership checked, before any
   * file is written (the CLI opens the run's journal here to hold its lock during
   * a recompile). Throwing aborts the compile with nothing written. `files`: every
   * file the compile is about to write, by run-relative path (the CLI tells a file a
   * crashed compile of this same plan already wrote from a damaged one).
   */
  beforeWrite?:
    | ((target: {
        runId: string;
        runDir: string;
        created: boolean;
        files: ReadonlyMap<string, string>;
      }) => void)
    | undefined;
}

/** A compiled run as plain data: what was written, and what changed. */
export interface CompiledRun {
  runId: string;
  /** Absolute path of the run directory. */
  runDir: string;
  /** Run directory relative to the repository root. */
  runDirRel: string;
  run: Run;
  /** digest(run.json): the runtime records it in `run.opened` / `run.recompiled`. */
  runDigest: Digest;
  /** Packets in run order (topological, ties in plan order). */
  packets: Packet[];
  gates: Gate[];
  /** Prompt text per packet id. */
  prompts: Map<string, string>;
  /** True when this call created the run directory. */
  created: boolean;
  /** Null at the first compile; what changed compared with the previous run.json otherwise. */
  changes: ChangeReport | null;
}

function planInvalid(scorecard: Scorecard): never {
  const first = scorecard.problems[0];
  throw compilerErrors.create(
    "ERR_PLAN_INVALID",
    `the plan is invalid: ${scorecard.problems.length} problem(s)${first ? `; first: ${first.pointer || "/"} ${first.message}` : ""}`,
    { details: { problems: scorecard.problems } },
  );
}

/** Evaluate and build a plan in memory: no file is read or written. */
export function buildCompiled(plan: unknown): {
  scorecard: Scorecard;
  planDigest: Digest;
  built: BuiltRun;
  view: PlanView;
} {
  // No source: the scorecard written into the run must be reproducible.
  const scorecard = evaluatePlan(plan);
  if (!scorecard.valid) planInvalid(scorecard);
  if (scorecard.decision !== "activate") {
    const target = scorecard.downgrade_target;
    throw compilerErrors.create(
      "ERR_PLAN_DOWNGRADE",
      `the plan asks to be downgraded${target ? ` to ${target}` : ""}, not run as a workflow`,
      { details: { downgrade_target: target, decision: scorecard.decision } },
    );
  }
  // The evaluator validated the plan against workflow-plan; WorkflowPlan must fit the compiler's view of it.
  const view: PlanView = plan as WorkflowPlan;
  return {
    scorecard,
    // A valid scorecard carries the plan's digest: the plan is canonicalised once, by the evaluator.
    planDigest: scorecard.plan_digest as Digest,
    built: buildRun(view, { gateCategories: coverageCategories(scorecard.capabilities) }),
    view,
  };
}

/** run.json for a built plan. */
export function makeRun(
  runId: string,
  view: PlanView,
  planDigest: Digest,
  scorecardDigest: Digest,
  built: BuiltRun,
  baseCommit: string | null,
  revision: number,
): Run {
  return {
    kind: "run",
    schema_version: "1",
    run_id: runId,
    plan_id: view.plan_id,
    plan_schema_version: view.schema_version,
    plan_digest: planDigest,
    scorecard_digest: scorecardDigest,
    compiler_version: COMPILER_VERSION,
    revision,
    base_commit: baseCommit,
    packets: built.packets.map((p) => ({
      packet_id: p.packet_id,
      digest: built.packetDigests.get(p.packet_id) as Digest,
      prompt_digest: built.promptDigests.get(p.packet_id) as Digest,
      depends_on: [...p.depends_on],
    })),
    gates: built.gates.map((g) => ({
      gate_id: g.gate_id,
      digest: built.gateDigests.get(g.gate_id) as Digest,
    })),
    handoffs: built.handoffs,
  };
}

/** `text`, the artifact's rendering, once `value` passes its schema (a compiler bug otherwise). */
function checked(
  schema: Parameters<typeof validateSchema>[0],
  value: unknown,
  what: string,
  text: string = renderArtifact(value),
): string {
  const r = validateSchema(schema, value);
  if (!r.ok) {
    // The compiler produced something its own schema refuses: a bug, reported with its problems.
    throw new Error(`compiler produced an invalid ${what}: ${JSON.stringify(r.problems.slice(0, 5))}`);
  }
  return text;
}

/** An artifact of a compile with its digest and file, made in one pass. */
interface Rendered<T> {
  value: T;
  digest: Digest;
  text: string;
}

function rendered<T>(value: T): Rendered<T> {
  const a = canonicalArtifact(value);
  return { value, digest: a.digest, text: a.rendered };
}

/** Every file of a run, with its exact bytes. */
export function runFiles(
  run: Rendered<Run>,
  plan: unknown,
  scorecard: Rendered<Scorecard>,
  built: BuiltRun,
): RunFile[] {
  const files: RunFile[] = [];
  for (const p of built.packets) {
    const text = built.packetFiles.get(p.packet_id);
    files.push({
      rel: `packets/${p.packet_id}.json`,
      text: checked("packet", p, `packet ${p.packet_id}`, text),
    });
    files.push({ rel: `prompts/${p.packet_id}.md`, text: built.prompts.get(p.packet_id) as string });
  }
  for (const g of built.gates) {
    const text = built.gateFiles.get(g.gate_id);
    files.push({ rel: `gates/${g.gate_id}.json`, text: checked("gate", g, `gate ${g.gate_id}`, text) });
  }
  files.push({ rel: "plan.json", text: checked("workflow-plan", plan, "plan snapshot") });
  files.push({
    rel: "scorecard.json",
    text: checked("scorecard", scorecard.value, "scorecard", scorecard.text),
  });
  const marker: RunMarker = { kind: "run-marker", schema_version: "1", run_id: run.value.run_id };
  files.push({ rel: MARKER_FILE, text: checked("run-marker", marker, "run marker") });
  files.push({ rel: "run.json", text: checked("run", run.value, "run.json", run.text) });
  return files;
}

function pickRunId(
  storeAbs: string,
  planId: string,
  planDigest: Digest,
  options: Pick<CompileOptions, "runId" | "newRun">,
): string {
  if (options.runId !== undefined) return options.runId;
  const fresh = makeRunId(planId, planDigest);
  if (options.newRun) return fresh;
  const runs = runsForPlan(storeAbs, planId);
  if (runs.length === 0 || runs.includes(fresh)) return fresh;
  if (runs.length === 1) return runs[0] as string;
  throw compilerErrors.create(
    "ERR_COMPILE_AMBIGUOUS_RUN",
    `the store has ${runs.length} runs of plan ${planId}: ${runs.join(", ")}`,
    { details: { plan_id: planId, runs } },
  );
}

/**
 * The run a plan compiles into, without compiling or writing anything: the same
 * choice compilePlan makes (explicit run id, else the store's run of this plan id).
 * Does not evaluate the plan, so it also finds the run of a plan that no longer compiles.
 */
export function locateRun(
  plan: unknown,
  options: Pick<CompileOptions, "repoRoot" | "storeDir" | "runId">,
): { runId: string; runDir: string; runDirRel: string; exists: boolean } {
  const planId = (plan as { plan_id?: unknown } | null)?.plan_id;
  if (typeof planId !== "string" || planId === "") {
    throw compilerErrors.create("ERR_PLAN_INVALID", "the plan has no plan_id", {
      details: { problems: [{ code: "ERR_PLAN_SCHEMA", pointer: "/plan_id", message: "missing" }] },
    });
  }
  const repoRoot = path.resolve(options.repoRoot);
  const store = resolveStore(repoRoot, options.storeDir);
  const runId = pickRunId(store.abs, planId, digest(plan), options);
  const runDirRel = `${store.rel}/${runId}`;
  const runDir = resolveInside(repoRoot, runDirRel, "run directory");
  return { runId, runDir, runDirRel, exists: fs.existsSync(runDir) };
}

/** Transitive dependents of `roots` in run order, excluding the roots. */
function downstreamOf(run: Run, roots: ReadonlySet<string>): string[] {
  const hit = new Set<string>(roots);
  const out: string[] = [];
  // run.packets is topological: one pass sees every dependency before its dependents.
  for (const p of run.packets) {
    if (hit.has(p.packet_id)) continue;
    if (p.depends_on.some((d) => hit.has(d))) {
      hit.add(p.packet_id);
      out.push(p.packet_id);
    }
  }
  return out;
}

/** What `next` changed compared with `previous` (the runtime's RecompileChanges shape). */
export function changeReport(previous: Run, next: Run): ChangeReport {
  const before = new Map(previous.packets.map((p) => [p.packet_id, p.digest]));
  const after = new Set(next.packets.map((p) => p.packet_id));
  const added = next.packets.filter((p) => !before.has(p.packet_id)).map((p) => p.packet_id);
  const changed = next.packets
    .filter((p) => before.has(p.packet_id) && before.get(p.packet_id) !== p.digest)
    .map((p) => p.packet_id);
  const removed = previous.packets.filter((p) => !after.has(p.packet_id)).map((p) => p.packet_id);
  const gBefore = new Map(previous.gates.map((g) => [g.gate_id, g.digest]));
  const gAfter = new Set(next.gates.map((g) => g.gate_id));
  return {
    added,
    changed,
    removed,
    downstream: downstreamOf(next, new Set([...added, ...changed])),
    gates: {
      added: next.gates.filter((g) => !gBefore.has(g.gate_id)).map((g) => g.gate_id),
      changed: next.gates
        .filter((g) => gBefore.has(g.gate_id) && gBefore.get(g.gate_id) !== g.digest)
        .map((g) => g.gate_id),
      removed: previous.gates.filter((g) => !gAfter.has(g.gate_id)).map((g) => g.gate_id),
    },
  };
}

/**
 * Compile a plan into a run store: evaluate it (refusing invalid and downgraded
 * plans), build every packet, prompt and gate, and write them under
 * `<repoRoot>/<storeDir>/<run_id>/`. Recompiling an edited plan into its existing
 * run keeps the run id and every unchanged file, bumps `revision`, and reports
 * what changed. Reproducible: nothing time-, host- or path-dependent is written.
 */
export function compilePlan(plan: unknown, options: CompileOptions): CompiledRun {
  const { scorecard, planDigest, built, view } = buildCompiled(plan);
  const repoRoot = path.resolve(options.repoRoot);
  const store = resolveStore(repoRoot, options.storeDir);
  const runId = pickRunId(store.abs, view.plan_id, planDigest, options);
  const runDirRel = `${store.rel}/${runId}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId)) {
    throw compilerErrors.create(
      "ERR_COMPILE_UNSAFE_ID",
      `run id ${JSON.stringify(runId)} is not a safe name`,
      {
        details: { run_id: runId },
      },
    );
  }
  const runDir = resolveInside(repoRoot, runDirRel, "run directory");
  const card = rendered(scorecard);

  if (!fs.existsSync(runDir)) {
    const run = rendered(makeRun(runId, view, planDigest, card.digest, built, options.baseCommit, 1));
    const files = runFiles(run, plan, card, built);
    options.beforeWrite?.({
      runId,
      runDir,
      created: true,
      files: new Map(files.map((f) => [f.rel, f.text])),
    });
    publishNewRun(store.abs, runDir, files);
    return result(run, true, null);
  }

  assertOwned(runDir, runId, runDirRel);
  const prev = readArtifact<Run>(path.join(runDir, "run.json"), "run");
  if (prev.value.plan_id !== view.plan_id || prev.value.run_id !== runId) {
    throw compilerErrors.create(
      "ERR_COMPILE_PLAN_MISMATCH",
      `run ${runId} was compiled from plan ${prev.value.plan_id} (run.json names run ${prev.value.run_id}), not plan ${view.plan_id}`,
      { details: { run_id: runId, run_plan_id: prev.value.plan_id, plan_id: view.plan_id } },
    );
  }
  const base = prev.value.base_commit;
  let run = rendered(makeRun(runId, view, planDigest, card.digest, built, base, prev.value.revision));
  if (run.digest !== prev.digest) {
    run = rendered({ ...run.value, revision: prev.value.revision + 1 });
  }
  const keep = new Set(built.packets.map((p) => p.packet_id));
  const keepGates = new Set(built.gates.map((g) => g.gate_id));
  const remove = [
    ...prev.value.packets
      .filter((p) => !keep.has(p.packet_id))
      .flatMap((p) => [`packets/${p.packet_id}.json`, `prompts/${p.packet_id}.md`]),
    ...prev.value.gates.filter((g) => !keepGates.has(g.gate_id)).map((g) => `gates/${g.gate_id}.json`),
  ];
  const files = runFiles(run, plan, card, built);
  options.beforeWrite?.({ runId, runDir, created: false, files: new Map(files.map((f) => [f.rel, f.text])) });
  updateRun(runDir, files, remove);
  return result(run, false, changeReport(prev.value, run.value));

  function result(r: Rendered<Run>, created: boolean, changes: ChangeReport | null): CompiledRun {
    return {
      runId,
      runDir,
      runDirRel,
      run: r.value,
      runDigest: r.digest,
      packets: built.packets,
      gates: built.gates,
      prompts: built.prompts,
      created,
      changes,
    };
  }
}
