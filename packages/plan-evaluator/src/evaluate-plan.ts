import { type Digest, digest } from "@dwm/core";
import type { CapabilityCoverage, Scorecard, ScorecardSummary } from "@dwm/schemas";
import { arr, isObj, type Obj, obj, ProblemList, pointer, strings } from "./internal/problems.js";
import { isRepoBound, semanticRules } from "./internal/rules.js";
import { schemaProblems } from "./internal/schema-problems.js";
import { averageScore, scorePlan } from "./internal/scores.js";
import { PLAN_LIMITS } from "./limits.js";
import { EVALUATOR_VERSION } from "./version.js";

export interface EvaluateOptions {
  /** Where the plan came from, recorded in the scorecard; leave out for a reproducible scorecard. */
  source?: string;
}

/**
 * Pointer of the first value nested deeper than the limit, or null. The walk goes no deeper
 * than the limit, so any value is safe; children are visited last to first (the order of the
 * stack-based walk this replaced, so the same pointer is reported), and nothing is allocated
 * but the path.
 */
function tooDeep(value: unknown, limit: number): string | null {
  if (depthBelow(value, limit)) return null;
  const keys: (string | number)[] = [];
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== "object") return false;
    if (depth >= limit) return true;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        keys.push(i);
        if (walk(v[i], depth + 1)) return true;
        keys.pop();
      }
      return false;
    }
    const names = Object.keys(v);
    for (let i = names.length - 1; i >= 0; i--) {
      const k = names[i] as string;
      keys.push(k);
      if (walk((v as Record<string, unknown>)[k], depth + 1)) return true;
      keys.pop();
    }
    return false;
  };
  return walk(value, 0) ? pointer(...keys) : null;
}

/** True when nothing in `v` is nested `limit` levels deep: the common case, checked without a path. */
function depthBelow(v: unknown, limit: number): boolean {
  if (v === null || typeof v !== "object") return true;
  if (limit <= 0) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!depthBelow(x, limit - 1)) return false;
    return true;
  }
  for (const k in v) if (!depthBelow((v as Record<string, unknown>)[k], limit - 1)) return false;
  return true;
}

function summarize(plan: Obj): ScorecardSummary {
  return {
    phases: arr(plan.phases).length,
    workers: arr(plan.workers).length,
    handoffs: arr(plan.handoffs).length,
    verification: arr(plan.verification).length,
    risk_gates: arr(plan.risk_gates).length,
    patterns: strings(plan.patterns).map(([p]) => p),
    repo_bound: isRepoBound(plan),
  };
}

/** What checking found besides problems: the plan as an object (null when not one or too deep), its digest, the coverage the rules found. */
interface PlanCheck {
  root: Obj | null;
  planDigest: Digest | null;
  /** schema_version selected a branch of the schema, so the rules beyond it ran. */
  known: boolean;
  coverage: CapabilityCoverage[];
}

/** How a non-object plan is named in ERR_PLAN_NOT_OBJECT. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  return value === null ? "null" : typeof value;
}

/**
 * Check a plan in order — depth, JSON, object, schema, then the rules beyond it — each
 * step only when the ones before let it read the plan. Every problem goes to `problems`.
 */
function checkPlan(plan: unknown, problems: ProblemList): PlanCheck {
  const deep = tooDeep(plan, PLAN_LIMITS.maxDepth);
  if (deep !== null) {
    problems.add(
      "ERR_PLAN_TOO_DEEP",
      deep,
      `the plan nests deeper than ${PLAN_LIMITS.maxDepth} levels at ${deep}`,
    );
    return { root: null, planDigest: null, known: false, coverage: [] };
  }
  let planDigest: Digest | null = null;
  try {
    planDigest = digest(plan);
  } catch (e) {
    problems.add("ERR_PLAN_NOT_JSON", "", `the plan is not a JSON value: ${(e as Error).message}`);
  }
  if (!isObj(plan)) {
    problems.add("ERR_PLAN_NOT_OBJECT", "", `the plan must be a JSON object, not ${kindOf(plan)}`);
    return { root: null, planDigest, known: false, coverage: [] };
  }
  if (planDigest === null) return { root: plan, planDigest, known: false, coverage: [] };
  const known = schemaProblems(plan, problems);
  return { root: plan, planDigest, known, coverage: known ? semanticRules(plan, problems) : [] };
}

/** The scorecard of a checked plan: decision and scores only when it has no problem. */
function scorecard(check: PlanCheck, problems: ProblemList, options: EvaluateOptions): Scorecard {
  const { root } = check;
  const valid = problems.items.length === 0;
  const activation = obj(root?.activation);
  const scores = valid && root ? scorePlan(root) : null;
  return {
    kind: "scorecard",
    schema_version: "1",
    evaluator_version: EVALUATOR_VERSION,
    source: options.source ?? null,
    plan_schema_version: check.known ? (root?.schema_version as Scorecard["plan_schema_version"]) : null,
    plan_id: typeof root?.plan_id === "string" ? root.plan_id : null,
    plan_digest: check.planDigest,
    valid,
    decision: valid ? (activation.decision as "activate" | "downgrade") : null,
    downgrade_target: valid ? ((activation.downgrade_target ?? null) as Scorecard["downgrade_target"]) : null,
    problems: problems.items,
    scores,
    score_average: scores ? averageScore(scores) : null,
    summary: root ? summarize(root) : null,
    capabilities: check.coverage,
  };
}

/**
 * Evaluate a workflow plan: every problem (code, JSON pointer, message, hint), the
 * activate/downgrade decision and seven quality scores. Never throws for any JSON
 * value; the result is a `scorecard` artifact (schemas/scorecard.schema.json).
 */
export function evaluatePlan(plan: unknown, options: EvaluateOptions = {}): Scorecard {
  const problems = new ProblemList();
  return scorecard(checkPlan(plan, problems), problems, options);
}
