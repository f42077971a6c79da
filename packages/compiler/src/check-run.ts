import fs from "node:fs";
import path from "node:path";
import { digest, isDwmError } from "@dwm/core";
import { loadPlanFile } from "@dwm/plan-evaluator";
import type { Gate, Invalidator, Packet, Run, RunGateEntry, RunPacketEntry } from "@dwm/schemas";
import { buildCompiled } from "./compile-plan.js";
import type { BuiltRun } from "./internal/build.js";
import { checkRunJson, checkRunText, runDirProblem } from "./internal/read.js";
import {
  addedGates,
  addedPackets,
  compilerStaleness,
  gateStaleness,
  invalidator,
  markerStaleness,
  type PlanRebuild,
  packetStaleness,
  planLoadStaleness,
  planStaleness,
  promptDrift,
  storedFileStaleness,
} from "./internal/staleness.js";
import { readMarker } from "./internal/store.js";

/**
 * Staleness check of a run against the current plan file: recompute everything
 * from the plan and compare it, and every file in the store, with run.json.
 * Returns one invalidator per changed or missing artifact, in a fixed order
 * (marker, run.json, compiler, plan, plan snapshot, scorecard, packets and their
 * prompts in run order, gates). Read-only: it never writes or repairs anything.
 */
export function checkRun(runDir: string, planPath: string): Invalidator[] {
  const dir = path.resolve(runDir);
  const stored = readStoredRun(dir);
  if ("missing" in stored) return [stored.missing];
  const run = stored.run;
  const plan = rebuildPlan(planPath, run);
  const built = plan.rebuilt;
  const found = [
    markerStaleness(run.run_id, readMarker(dir)),
    compilerStaleness(run.compiler_version),
    plan.invalidator,
    ...snapshotInvalidators(dir, run),
    ...run.packets.flatMap((entry) => packetInvalidators(dir, entry, built)),
    ...(built ? addedPackets(run.packets, built) : []),
    ...run.gates.flatMap((entry) => gateInvalidators(dir, entry, built)),
    ...(built ? addedGates(run.gates, built) : []),
  ];
  return found.filter((i): i is Invalidator => i !== null);
}

/** run.json of the store, or the one invalidator that says why there is no run to check. */
function readStoredRun(dir: string): { run: Run } | { missing: Invalidator } {
  const missing = (actual: string | null, message: string) => ({
    missing: invalidator("ERR_RESUME_MISSING_ARTIFACT", "run", "run.json", "run.json", null, actual, message),
  });
  const dirProblem = runDirProblem(dir);
  if (dirProblem) return missing(null, dirProblem);
  const c = checkRunJson<Run>(dir, "run.json", "run");
  if (!c.ok) return missing(c.digest, c.message);
  return { run: c.value };
}

/** The current plan file, rebuilt in memory, and what it says about the run's plan. */
function rebuildPlan(
  planPath: string,
  run: Run,
): { rebuilt: BuiltRun | null; invalidator: Invalidator | null } {
  const name = path.basename(planPath);
  let plan: unknown;
  try {
    plan = loadPlanFile(planPath).plan;
  } catch (e) {
    const exists = !(isDwmError(e) && e.code === "ERR_PLAN_UNREADABLE" && !fs.existsSync(planPath));
    const reason = isDwmError(e) ? e.message : String(e);
    return { rebuilt: null, invalidator: planLoadStaleness(planPath, name, run.plan_digest, exists, reason) };
  }
  const rebuild = buildPlan(plan);
  return {
    rebuilt: rebuild.built,
    invalidator: planStaleness(planPath, name, run.plan_digest, run.compiler_version, rebuild),
  };
}

/** Digest and in-memory build of a plan value; a plan that no longer compiles keeps its reason. */
function buildPlan(plan: unknown): PlanRebuild {
  try {
    const compiled = buildCompiled(plan);
    return { digest: compiled.planDigest, built: compiled.built, problem: null };
  } catch (e) {
    let d: PlanRebuild["digest"] = null;
    try {
      d = digest(plan);
    } catch {
      // A value canonical JSON cannot represent has no digest; the plan then counts as changed.
    }
    return { digest: d, built: null, problem: isDwmError(e) ? `${e.code}: ${e.message}` : String(e) };
  }
}

/** plan.json and scorecard.json against the digests run.json records for them. */
function snapshotInvalidators(dir: string, run: Run): (Invalidator | null)[] {
  return [
    storedFileStaleness(
      checkRunJson(dir, "plan.json", null, run.plan_digest),
      "plan-snapshot",
      "plan.json",
      "plan.json",
      run.plan_digest,
      "ERR_RESUME_STALE_PLAN",
    ),
    storedFileStaleness(
      checkRunJson(dir, "scorecard.json", null, run.scorecard_digest),
      "scorecard",
      "scorecard.json",
      "scorecard.json",
      run.scorecard_digest,
      "ERR_RESUME_STALE_PLAN",
    ),
  ];
}

/** One packet of run.json: its file, whether the plan still gives it, and its prompt. */
function packetInvalidators(
  dir: string,
  entry: RunPacketEntry,
  built: BuiltRun | null,
): (Invalidator | null)[] {
  const id = entry.packet_id;
  const rel = `packets/${id}.json`;
  const c = checkRunJson<Packet>(dir, rel, "packet", entry.digest);
  const stored = c.ok ? c.value : null;
  const promptRel = `prompts/${id}.md`;
  const prompt = checkRunText(dir, promptRel, entry.prompt_digest);
  return [
    storedFileStaleness(c, "packet", id, rel, entry.digest, "ERR_RESUME_STALE_PACKET"),
    stored && built ? packetStaleness(entry, built) : null,
    storedFileStaleness(prompt, "prompt", id, promptRel, entry.prompt_digest, "ERR_RESUME_STALE_PROMPT"),
    stored && prompt.ok ? promptDrift(entry, stored, { text: prompt.value, digest: prompt.digest }) : null,
  ];
}

/** One gate of run.json: its file, then whether the plan still gives it. */
function gateInvalidators(dir: string, entry: RunGateEntry, built: BuiltRun | null): (Invalidator | null)[] {
  const rel = `gates/${entry.gate_id}.json`;
  const c = checkRunJson<Gate>(dir, rel, "gate", entry.digest);
  if (!c.ok)
    return [storedFileStaleness(c, "gate", entry.gate_id, rel, entry.digest, "ERR_RESUME_STALE_GATE")];
  return [built ? gateStaleness(entry, built) : null];
}
