import { checkRelativePath, isDwmError } from "@dwm/core";
import type { CapabilityCoverage } from "@dwm/schemas";
import { safeDefaultProblem, words } from "../safe-default.js";
import {
  checkConnected,
  checkDependencies,
  checkHandoffs,
  checkResume,
  checkUniqueIds,
  phaseTable,
} from "./graph.js";
import { arr, isObj, type Obj, obj, type ProblemList, pointer, show, str, strings } from "./problems.js";
import { rules06 } from "./rules06.js";

export const EXCLUSIVE_THRESHOLDS = ["downstream-consumer", "resumable-handoffs", "multi-surface-fanout"];
export const SUPPORTING_THRESHOLDS = ["planned-fanout", "adversarial-verification", "human-gates"];
export const DOWNGRADE_TARGETS = ["direct-codex", "workflow-router", "simple-plan"];
export const REPOSITORY_INPUT = "repository path";
const REPO_ONLY_INPUTS = new Set([
  "checkout path",
  "repository path",
  "repository root",
  "repo path",
  "repo root",
  "working tree",
  "workspace path",
]);

/** The instruction a downgraded plan's first slice must carry. */
export function downgradeInstruction(target: string): string {
  return `Use ${target} instead of dynamic-workflow-designer for this request.`;
}

/** True when a surface of kind repo exists. */
export function isRepoBound(plan: Obj): boolean {
  return arr(plan.surfaces).some((s) => obj(s).kind === "repo");
}

function safePathProblem(p: string): string | null {
  try {
    checkRelativePath(p, "handoff artifact");
    return null;
  } catch (e) {
    if (isDwmError(e)) return String((e.details as { reason?: unknown } | undefined)?.reason ?? e.message);
    throw e;
  }
}

/** The lists an activated plan must not leave empty: path in the plan, and the name a message uses. */
const ACTIVATION_LISTS: [string[], string][] = [
  [["assumptions"], "assumptions"],
  [["patterns"], "patterns"],
  [["phases"], "phases"],
  [["workers"], "workers"],
  [["handoffs"], "handoffs"],
  [["verification"], "verification"],
  [["risk_gates"], "risk gates"],
  [["resume", "cacheable_outputs"], "cacheable outputs"],
  [["resume", "invalidators"], "invalidators"],
  [["resume", "restart_points"], "restart points"],
];

/** The decision picks the rule set: activate and downgrade ask opposite things of a plan. */
function activationRules(plan: Obj, out: ProblemList): void {
  const activation = obj(plan.activation);
  if (activation.decision === "activate") activateRules(plan, activation, out);
  else if (activation.decision === "downgrade") downgradeRules(plan, activation, out);
}

/** An activated plan: no downgrade target, an exclusive and a supporting threshold, no empty list it needs. */
export function activateRules(plan: Obj, activation: Obj, out: ProblemList): void {
  const target = activation.downgrade_target;
  if (target !== null && target !== undefined)
    out.add(
      "ERR_PLAN_ACTIVATION_TARGET",
      "/activation/downgrade_target",
      `an activated plan must have downgrade_target null, not ${show(target)}`,
    );
  if (Array.isArray(activation.matched_thresholds)) thresholdRules(activation, out);
  const noWorkerNeeded = !needsWorkers(plan);
  for (const [path, label] of ACTIVATION_LISTS) {
    if (label === "workers" && noWorkerNeeded) continue;
    const v = path.length === 1 ? plan[path[0] as string] : obj(plan[path[0] as string])[path[1] as string];
    if (Array.isArray(v) && v.length === 0)
      out.add("ERR_PLAN_ACTIVATION_INCOMPLETE", pointer(...path), `an activated plan needs ${label}`);
  }
}

/**
 * Whether some phase is done by workers: a plan whose phases are all commands or gates (a
 * deterministic fan-out of scripts) has nobody to describe in `workers`. A plan without phases
 * still needs workers (and phases): there is nothing to tell it is one of those.
 */
export function needsWorkers(plan: Obj): boolean {
  const phases = arr(plan.phases);
  if (phases.length === 0) return true;
  return phases.some((ph) => !isObj(ph) || (!isObj(ph.command) && ph.kind !== "gate"));
}

/** Activation needs one exclusive and one supporting threshold among those it claims. */
function thresholdRules(activation: Obj, out: ProblemList): void {
  const thresholds = strings(activation.matched_thresholds).map(([t]) => t);
  if (!thresholds.some((t) => EXCLUSIVE_THRESHOLDS.includes(t)))
    out.add(
      "ERR_PLAN_ACTIVATION_THRESHOLDS",
      "/activation/matched_thresholds",
      `an activated plan needs an exclusive threshold (${EXCLUSIVE_THRESHOLDS.join(", ")})`,
    );
  if (!thresholds.some((t) => SUPPORTING_THRESHOLDS.includes(t)))
    out.add(
      "ERR_PLAN_ACTIVATION_THRESHOLDS",
      "/activation/matched_thresholds",
      `an activated plan needs a supporting threshold (${SUPPORTING_THRESHOLDS.join(", ")})`,
    );
}

/** A downgraded plan: a target, none of a workflow's parts, one agent run by a human, and the fixed instruction. */
export function downgradeRules(plan: Obj, activation: Obj, out: ProblemList): void {
  const target = activation.downgrade_target;
  if (target === null)
    out.add(
      "ERR_PLAN_DOWNGRADE_TARGET",
      "/activation/downgrade_target",
      "a downgraded plan needs a downgrade_target (direct-codex, workflow-router or simple-plan)",
    );
  const shape = (at: string, message: string) => out.add("ERR_PLAN_DOWNGRADE_SHAPE", at, message);
  downgradeScopeRules(plan, activation, shape);
  downgradeExecutionRules(plan, shape);
  downgradeInstructionRule(plan, target, out);
}

type ShapeProblem = (at: string, message: string) => void;

/** A downgraded plan claims no thresholds and has no workers, phases, handoffs or restart points. */
function downgradeScopeRules(plan: Obj, activation: Obj, shape: ShapeProblem): void {
  if (strings(activation.matched_thresholds).length > 0)
    shape("/activation/matched_thresholds", "a downgraded plan must not claim activation thresholds");
  for (const key of ["workers", "phases", "handoffs"])
    if (arr(plan[key]).length > 0) shape(`/${key}`, `a downgraded plan must have no ${key}`);
  if (arr(obj(plan.resume).restart_points).length > 0)
    shape("/resume/restart_points", "a downgraded plan must not define restart points");
}

/** A downgraded plan runs one agent, no parallelism, direct-codex for a human. */
function downgradeExecutionRules(plan: Obj, shape: ShapeProblem): void {
  const par = obj(plan.parallelism);
  if (typeof par.shape === "string" && par.shape !== "none")
    shape(
      "/parallelism/shape",
      `a downgraded plan must use parallelism shape "none", not ${show(par.shape)}`,
    );
  if (typeof par.concurrency_cap === "number" && par.concurrency_cap !== 1)
    shape(
      "/parallelism/concurrency_cap",
      `a downgraded plan's concurrency_cap must be 1, not ${par.concurrency_cap}`,
    );
  const agents = obj(plan.budget).max_agents;
  if (typeof agents === "number" && agents > 1)
    shape("/budget/max_agents", `a downgraded plan must not allocate ${agents} agents (at most 1)`);
  const ep = obj(plan.execution_path);
  if (typeof ep.mode === "string" && ep.mode !== "direct-codex")
    shape(
      "/execution_path/mode",
      `a downgraded plan's execution mode must be "direct-codex", not ${show(ep.mode)}`,
    );
  if (typeof ep.consumer === "string" && ep.consumer !== "human")
    shape(
      "/execution_path/consumer",
      `a downgraded plan's consumer must be "human", not ${show(ep.consumer)}`,
    );
}

/** A downgraded plan's first slice reads exactly downgradeInstruction(target), for a known target. */
function downgradeInstructionRule(plan: Obj, target: unknown, out: ProblemList): void {
  const instruction = obj(obj(plan.execution_path).first_slice).instruction;
  if (
    typeof target === "string" &&
    DOWNGRADE_TARGETS.includes(target) &&
    typeof instruction === "string" &&
    instruction !== downgradeInstruction(target)
  )
    out.add(
      "ERR_PLAN_DOWNGRADE_INSTRUCTION",
      "/execution_path/first_slice/instruction",
      `a downgraded plan's first slice must read ${show(downgradeInstruction(target))}`,
    );
}

function referenceRules(plan: Obj, out: ProblemList): void {
  checkUniqueIds(plan, "phases", "phase", out);
  checkUniqueIds(plan, "workers", "worker", out);
  checkUniqueIds(plan, "surfaces", "surface", out);
  const workers = new Set(arr(plan.workers).map((w) => str(obj(w).id)));
  arr(plan.phases).forEach((ph, i) => {
    for (const [w, j] of strings(obj(ph).worker_ids))
      if (!workers.has(w))
        out.add(
          "ERR_PLAN_UNKNOWN_WORKER",
          pointer("phases", i, "worker_ids", j),
          `phase ${show(str(obj(ph).id))} names unknown worker ${show(w)}`,
        );
  });
  const phases = phaseTable(plan);
  checkDependencies(plan, phases, out);
  checkHandoffs(plan, phases, out, safePathProblem);
  checkResume(plan, phases, out);
  if (obj(plan.activation).decision === "activate") checkConnected(plan, phases, out);
}

/** The risky capabilities the plan needs, each with the pointers of what needs it. */
export function requiredCapabilities(plan: Obj): Map<string, string[]> {
  const need = new Map<string, string[]>();
  const add = (term: string, at: string) => {
    const list = need.get(term) ?? [];
    list.push(at);
    need.set(term, list);
  };
  arr(plan.workers).forEach((w, i) => {
    const tp = obj(obj(w).tool_permissions);
    for (const k of ["write", "shell", "network"])
      if (tp[k] === true) add(k, pointer("workers", i, "tool_permissions", k));
    if (arr(tp.mcp_connectors).length > 0)
      add("external message", pointer("workers", i, "tool_permissions", "mcp_connectors"));
    for (const [e, j] of strings(tp.requires_escalation_for))
      if (["write", "shell", "network", "external-message"].includes(e))
        add(e.replace(/-/g, " "), pointer("workers", i, "tool_permissions", "requires_escalation_for", j));
  });
  arr(plan.surfaces).forEach((s, i) => {
    const mode = obj(s).access_mode;
    if (typeof mode === "string" && mode !== "read-only") add("write", pointer("surfaces", i, "access_mode"));
  });
  // 0.6: a command phase runs a process through the shell backend.
  if (plan.schema_version === "0.6")
    arr(plan.phases).forEach((ph, i) => {
      if (isObj(obj(ph).command)) add("shell", pointer("phases", i, "command"));
    });
  return need;
}

/** Risk gates: blocking safe defaults, one separate gate per required capability. */
function gateRules(plan: Obj, out: ProblemList): CapabilityCoverage[] {
  const gates = arr(plan.risk_gates);
  gates.forEach((g, i) => {
    const sd = obj(g).safe_default;
    if (typeof sd === "string" && sd.trim() !== "") {
      const why = safeDefaultProblem(sd);
      if (why)
        out.add(
          "ERR_PLAN_SAFE_DEFAULT",
          pointer("risk_gates", i, "safe_default"),
          `safe_default ${show(sd)} ${why}`,
        );
    }
  });
  const need = requiredCapabilities(plan);
  const terms = [...need.keys()].sort();
  const triggers = gates.map((g) => new Set(words(str(obj(g).trigger) ?? "")));
  const matches = (term: string, i: number) => words(term).every((t) => triggers[i]?.has(t));
  const coverage: CapabilityCoverage[] = [];
  for (const term of terms) {
    const requiredBy = need.get(term) ?? [];
    const matching = gates.map((_, i) => i).filter((i) => matches(term, i));
    const separate = matching.filter((i) => terms.filter((t) => matches(t, i)).length === 1);
    coverage.push({
      capability: term,
      required_by: requiredBy,
      gates: separate.map((i) => pointer("risk_gates", i)),
    });
    const first = requiredBy[0] ?? "/risk_gates";
    if (matching.length === 0)
      out.add(
        "ERR_PLAN_MISSING_GATE",
        first,
        `no risk gate covers ${show(term)}, needed by ${requiredBy.join(", ")}`,
        `Add a risk gate whose trigger names ${show(term)}, e.g. {"trigger": "${term} action", "safe_default": "stop before ${term} actions and ask for approval", "requires_user_approval": true}.`,
      );
    else if (separate.length === 0)
      out.add(
        "ERR_PLAN_GATE_NOT_SEPARATE",
        pointer("risk_gates", matching[0] as number, "trigger"),
        `${show(term)} is covered only by gates that also cover other capabilities (${matching
          .map((i) => show(str(obj(gates[i]).trigger)))
          .join(", ")})`,
      );
  }
  return coverage;
}

function firstSliceRules(plan: Obj, out: ProblemList): void {
  const inputs = strings(obj(obj(plan.execution_path).first_slice).inputs);
  if (!Array.isArray(obj(obj(plan.execution_path).first_slice).inputs)) return;
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();
  if (isRepoBound(plan)) {
    if (!inputs.some(([s]) => norm(s) === REPOSITORY_INPUT))
      out.add(
        "ERR_PLAN_FIRST_SLICE_REPO",
        "/execution_path/first_slice/inputs",
        `the plan has a repo surface, so the first slice's inputs must include ${show(REPOSITORY_INPUT)}`,
      );
  } else {
    for (const [s, i] of inputs)
      if (REPO_ONLY_INPUTS.has(norm(s)))
        out.add(
          "ERR_PLAN_FIRST_SLICE_REPO_ONLY",
          pointer("execution_path", "first_slice", "inputs", i),
          `the plan has no repo surface, but the first slice takes ${show(s)}`,
        );
  }
}

/** Every rule beyond the schema. Safe on any object: it only reads what has the right shape. */
export function semanticRules(plan: Obj, out: ProblemList): CapabilityCoverage[] {
  activationRules(plan, out);
  referenceRules(plan, out);
  if (plan.schema_version === "0.6") rules06(plan, out);
  const coverage = gateRules(plan, out);
  firstSliceRules(plan, out);
  return coverage;
}

export { isObj };
