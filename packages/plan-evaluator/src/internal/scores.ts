import type { MetricScore, ScorecardScores } from "@dwm/schemas";
import { arr, isObj, type Obj, obj, str, strings } from "./problems.js";
import { EXCLUSIVE_THRESHOLDS, requiredCapabilities, SUPPORTING_THRESHOLDS } from "./rules.js";

// Scores read a plan that passed every rule. Each metric is 0–2 and measures how much
// of the plan's own structure backs what it claims, so a thin valid plan scores lower
// than a thorough one (the earlier version's scores were constant once valid).

type Score = 0 | 1 | 2;
const m = (score: Score, reason: string): MetricScore => ({ score, reason });

/** 2 when all of n items pass, 1 when some do, 0 when none do (or n is 0 and empty is bad). */
function fraction(ok: number, n: number): Score {
  if (n === 0 || ok === n) return 2;
  return ok > 0 ? 1 : 0;
}

function mentions(text: string, names: Iterable<string>): boolean {
  return mentionsLower(text.toLowerCase(), names);
}

/** `mentions` for a text already lower-cased (a worker's contract, read once for every phase). */
function mentionsLower(t: string, names: Iterable<string>): boolean {
  for (const n of names) if (n.trim() !== "" && t.includes(n.toLowerCase())) return true;
  return false;
}

/**
 * Schema 0.6: groups of phases that repeat one step — the same workers (or the same
 * command), the same dependencies, outside any fan-out and not gates. A fan_out over
 * their items would run that step once per item instead.
 */
export function repeatedPhases(plan: Obj): string[][] {
  if (plan.schema_version !== "0.6") return [];
  const perItem = new Set<string>();
  for (const ph of arr(plan.phases)) {
    const fo = obj(obj(ph).fan_out);
    const id = str(obj(ph).id);
    if (id !== undefined && Object.keys(fo).length > 0) perItem.add(id);
    for (const [p] of strings(fo.pipeline)) perItem.add(p);
  }
  const groups = new Map<string, string[]>();
  for (const ph of arr(plan.phases)) {
    const p = obj(ph);
    const id = str(p.id);
    if (id === undefined || perItem.has(id) || p.kind === "gate") continue;
    const workers = strings(p.worker_ids)
      .map(([w]) => w)
      .sort();
    const run = obj(p.command).run;
    if (workers.length === 0 && run === undefined) continue;
    const deps = strings(p.depends_on)
      .map(([d]) => d)
      .sort();
    const key = JSON.stringify([workers, run ?? null, deps]);
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

function thresholdBacked(plan: Obj, threshold: string): boolean {
  const patterns = strings(plan.patterns).map(([p]) => p);
  const shape = obj(plan.parallelism).shape;
  const handoffs = arr(plan.handoffs).length;
  const noRepeats = repeatedPhases(plan).length === 0;
  switch (threshold) {
    case "downstream-consumer":
      return obj(plan.execution_path).consumer !== "human" || handoffs > 0;
    case "resumable-handoffs":
      return handoffs > 0 && arr(obj(plan.resume).restart_points).length > 0;
    case "multi-surface-fanout":
      return arr(plan.surfaces).length >= 2 && shape !== "none" && noRepeats;
    case "planned-fanout":
      return shape !== "none" && noRepeats;
    case "adversarial-verification":
      return (
        arr(plan.verification).length > 0 &&
        (patterns.includes("Adversarial Verify") || patterns.includes("Judge Panel"))
      );
    case "human-gates":
      return (
        patterns.includes("Human Gate") ||
        arr(plan.phases).some((p) => obj(p).id === "human_gate" || obj(p).kind === "gate")
      );
    default:
      return false;
  }
}

function activationDiscipline(plan: Obj, activated: boolean): MetricScore {
  if (!activated) {
    return arr(plan.patterns).length === 0
      ? m(2, "downgrades with no workflow structure left over")
      : m(1, "downgrades but still names workflow patterns");
  }
  const claimed = strings(obj(plan.activation).matched_thresholds)
    .map(([t]) => t)
    .filter((t) => EXCLUSIVE_THRESHOLDS.includes(t) || SUPPORTING_THRESHOLDS.includes(t));
  const unbacked = claimed.filter((t) => !thresholdBacked(plan, t));
  const score = fraction(claimed.length - unbacked.length, claimed.length);
  const repeats = repeatedPhases(plan);
  const why =
    repeats.length > 0 && unbacked.some((t) => t.endsWith("fanout"))
      ? ` (phases ${repeats.map((g) => g.join(", ")).join("; ")} repeat one step; a fan_out would run it once per item)`
      : "";
  return m(
    score,
    unbacked.length === 0
      ? `all ${claimed.length} matched thresholds are backed by the plan's structure`
      : `thresholds not backed by the plan's structure: ${unbacked.join(", ")}${why}`,
  );
}

function executableArtifact(plan: Obj, activated: boolean): MetricScore {
  if (!activated) return m(2, "the first slice routes the request to the downgrade target");
  const contractOf = new Map(
    arr(plan.workers).map((w) => [
      str(obj(w).id),
      (str(obj(obj(w).prompt_contract).required_output_schema) ?? "").toLowerCase(),
    ]),
  );
  const phases = arr(plan.phases);
  let ok = 0;
  const produced = new Set<string>();
  for (const ph of phases) for (const [o] of strings(obj(ph).outputs)) produced.add(o);
  for (const ph of phases) {
    // 0.6: a command phase is executable as written; a gate phase when it reviews a phase output.
    if (isObj(obj(ph).command)) {
      ok++;
      continue;
    }
    if (obj(ph).kind === "gate") {
      if (strings(obj(ph).review).some(([r]) => mentions(r, produced))) ok++;
      continue;
    }
    const outputs = strings(obj(ph).outputs).map(([o]) => o);
    const contracts = strings(obj(ph).worker_ids).map(([w]) => contractOf.get(w) ?? "");
    if (contracts.some((c) => mentionsLower(c, outputs))) ok++;
  }
  return m(
    fraction(ok, phases.length),
    `${ok} of ${phases.length} phases have a worker whose required_output_schema names one of the phase's outputs${plan.schema_version === "0.6" ? " (or a command, or a review of an output)" : ""}`,
  );
}

function handoffClarity(plan: Obj, activated: boolean): MetricScore {
  if (!activated) return m(2, "a downgrade hands nothing off");
  const pairs = new Set(
    arr(plan.handoffs).map((h) => `${str(obj(h).from_phase)}\u0000${str(obj(h).to_phase)}`),
  );
  let edges = 0;
  let carried = 0;
  for (const ph of arr(plan.phases)) {
    const id = str(obj(ph).id);
    for (const [d] of strings(obj(ph).depends_on)) {
      edges++;
      if (pairs.has(`${d}\u0000${id}`)) carried++;
    }
  }
  const weak = arr(plan.handoffs).filter((h) => obj(obj(h).artifact_schema).format === "other").length;
  let score = fraction(carried, edges);
  if (score === 2 && weak > 0) score = 1;
  return m(
    score,
    `${carried} of ${edges} dependencies carry a handoff artifact${weak > 0 ? `; ${weak} handoff(s) use format "other"` : ""}`,
  );
}

function verificationStrength(plan: Obj, activated: boolean): MetricScore {
  const items = arr(plan.verification);
  if (!activated)
    return items.length > 0
      ? m(2, "the downgrade states how its result is checked")
      : m(1, "a downgrade without verification");
  const produced = new Set<string>();
  for (const ph of arr(plan.phases)) for (const [o] of strings(obj(ph).outputs)) produced.add(o);
  const grounded = items.filter((v) =>
    strings(obj(v).evidence_required).some(([e]) => mentions(e, produced)),
  ).length;
  return m(
    fraction(grounded, items.length),
    `${grounded} of ${items.length} verification items require evidence that a phase produces`,
  );
}

function safetyGating(plan: Obj, activated: boolean): MetricScore {
  const need = requiredCapabilities(plan);
  const gates = arr(plan.risk_gates).length;
  if (!activated && gates === 0 && need.size === 0) return m(1, "a downgrade that names no risk gate");
  const loose: string[] = [];
  for (const w of arr(plan.workers)) {
    const tp = obj(obj(w).tool_permissions);
    const esc = strings(tp.requires_escalation_for).map(([e]) => e);
    for (const k of ["write", "shell", "network"])
      if (tp[k] === true && !esc.includes(k)) loose.push(`${str(obj(w).id)}.${k}`);
  }
  if (loose.length > 0)
    return m(
      1,
      `every capability has its own gate, but workers hold permissions without escalation: ${loose.join(", ")}`,
    );
  return m(
    2,
    `${need.size} risky capabilities, each with its own gate; ${gates} gate(s) with blocking defaults`,
  );
}

function resumeValue(plan: Obj, activated: boolean): MetricScore {
  if (!activated) return m(1, "a downgrade has nothing to resume");
  const phases = arr(plan.phases)
    .map((p) => str(obj(p).id))
    .filter((id): id is string => id !== undefined);
  const restart = new Set(strings(obj(plan.resume).restart_points).map(([r]) => r));
  const covered = phases.filter((p) => restart.has(p)).length;
  return m(fraction(covered, phases.length), `${covered} of ${phases.length} phases are restart points`);
}

function downstreamConsumer(plan: Obj, activated: boolean): MetricScore {
  const fs = obj(obj(plan.execution_path).first_slice);
  const inputs = strings(fs.inputs).map(([i]) => i.toLowerCase().trim());
  const hasPlan = inputs.includes("workflow.plan.json") || inputs.includes("original prompt");
  let concrete: boolean;
  if (activated) {
    const produced = new Set<string>();
    for (const ph of arr(plan.phases)) for (const [o] of strings(obj(ph).outputs)) produced.add(o);
    concrete = mentions(str(fs.expected_output) ?? "", produced);
  } else concrete = true;
  const score: Score = hasPlan && concrete ? 2 : hasPlan || concrete ? 1 : 0;
  const parts = [
    hasPlan
      ? "the first slice receives the plan or the original prompt"
      : "the first slice receives neither the plan nor the original prompt",
    activated
      ? concrete
        ? "its expected output names a phase output"
        : "its expected output names no phase output"
      : "it routes to the downgrade target",
  ];
  return m(score, parts.join("; "));
}

/** The seven metrics of a valid plan. */
export function scorePlan(plan: Obj): ScorecardScores {
  const activated = obj(plan.activation).decision === "activate";
  return {
    activation_discipline: activationDiscipline(plan, activated),
    executable_artifact: executableArtifact(plan, activated),
    handoff_clarity: handoffClarity(plan, activated),
    verification_strength: verificationStrength(plan, activated),
    safety_gating: safetyGating(plan, activated),
    resume_value: resumeValue(plan, activated),
    downstream_consumer_success: downstreamConsumer(plan, activated),
  };
}

/** Mean of the seven scores, rounded to 3 decimals. */
export function averageScore(scores: ScorecardScores): number {
  const values = Object.values(scores).map((s) => s.score);
  return Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 1000) / 1000;
}
