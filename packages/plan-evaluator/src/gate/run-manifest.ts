// The plan-evaluator manifest gate: fixtures/plan-evaluator/manifest.json lists cases
// (a plan file, optionally patched, or a raw input file) with the exact outcome each
// must have. runManifest evaluates every case and decides keep only if all match.
import fs from "node:fs";
import path from "node:path";
import { isDwmError, parseJsonText } from "@dwm/core";
import type { ManifestFailure, ManifestSummary, Scorecard } from "@dwm/schemas";
import { evaluatePlan } from "../evaluate-plan.js";
import { loadPlanFile } from "../load-plan-file.js";

/** One RFC 6902 operation (add, replace, remove) applied to a fixture plan. */
export interface PatchOp {
  op: "add" | "replace" | "remove";
  path: string;
  value?: unknown;
}

export interface ManifestCase {
  id: string;
  /** A plan file relative to the manifest, parsed with loadPlanFile. */
  plan?: string;
  /** Operations applied to the plan before evaluating it. */
  patch?: PatchOp[];
  /** Size limit for loadPlanFile (to test ERR_PLAN_TOO_LARGE without a large fixture). */
  max_bytes?: number;
  expect: {
    /** loadPlanFile must throw this code. */
    error?: string;
    valid?: boolean;
    decision?: "activate" | "downgrade";
    downgrade_target?: string | null;
    /** The exact problems, each "CODE pointer", in any order. */
    problems?: string[];
    /** Exact scores of the named metrics. */
    scores?: Record<string, number>;
  };
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** Apply RFC 6902 add/replace/remove to a deep copy of `doc`. */
export function applyPatch(doc: unknown, ops: PatchOp[]): unknown {
  const root = { value: structuredClone(doc) } as Record<string, unknown>;
  for (const op of ops) {
    const tokens = ["value", ...op.path.split("/").slice(1).map(unescapeToken)];
    const parent = parentOf(root, tokens, op.path);
    const last = tokens[tokens.length - 1] as string;
    if (Array.isArray(parent)) applyToList(parent, last, op);
    else applyToObject(parent as Record<string, unknown>, last, op);
  }
  return root.value;
}

/** The object or list holding the last token of a path; throws when the path does not exist. */
function parentOf(root: Record<string, unknown>, tokens: string[], path: string): unknown {
  let parent: unknown = root;
  for (const t of tokens.slice(0, -1)) {
    parent = (parent as Record<string, unknown>)[t];
    if (parent === null || typeof parent !== "object") throw new Error(`patch path ${path} does not exist`);
  }
  return parent;
}

function applyToList(list: unknown[], last: string, op: PatchOp): void {
  const i = last === "-" ? list.length : Number(last);
  if (!Number.isInteger(i) || i < 0 || i > list.length) throw new Error(`bad index in ${op.path}`);
  if (op.op === "add") list.splice(i, 0, op.value);
  else if (op.op === "remove") list.splice(i, 1);
  else list[i] = op.value;
}

function applyToObject(o: Record<string, unknown>, last: string, op: PatchOp): void {
  if (op.op !== "add" && !(last in o)) throw new Error(`patch path ${op.path} does not exist`);
  if (op.op === "remove") delete o[last];
  else o[last] = op.value;
}

const sorted = (xs: string[]) => [...xs].sort();

/** Run one case; returns a failure message, or null when it matches. */
export function runCase(c: ManifestCase, dir: string): string | null {
  if (!c.plan) return "case names no plan file";
  let plan: unknown;
  try {
    const loaded = loadPlanFile(
      path.resolve(dir, c.plan),
      c.max_bytes === undefined ? {} : { maxBytes: c.max_bytes },
    );
    plan = loaded.plan;
  } catch (e) {
    const code = isDwmError(e) ? e.code : String(e);
    if (c.expect.error === code) return null;
    return `loading ${c.plan} threw ${code}${c.expect.error ? `, expected ${c.expect.error}` : ""}`;
  }
  if (c.expect.error) return `expected ${c.expect.error}, but the plan loaded`;
  if (c.patch) plan = applyPatch(plan, c.patch);
  const diffs = scorecardDiffs(evaluatePlan(plan), c.expect);
  return diffs.length ? diffs.join("; ") : null;
}

/** How a scorecard differs from what a case expects, one message per difference; empty when it matches. */
export function scorecardDiffs(sc: Scorecard, e: ManifestCase["expect"]): string[] {
  const got = sc.problems.map((p) => `${p.code} ${p.pointer}`);
  const diffs: string[] = [];
  if (e.valid !== undefined && sc.valid !== e.valid) diffs.push(`valid ${sc.valid}, expected ${e.valid}`);
  if (e.decision !== undefined && sc.decision !== e.decision)
    diffs.push(`decision ${sc.decision}, expected ${e.decision}`);
  if (e.downgrade_target !== undefined && sc.downgrade_target !== e.downgrade_target)
    diffs.push(`downgrade_target ${sc.downgrade_target}, expected ${e.downgrade_target}`);
  if (e.problems !== undefined && JSON.stringify(sorted(got)) !== JSON.stringify(sorted(e.problems)))
    diffs.push(`problems ${JSON.stringify(sorted(got))}, expected ${JSON.stringify(sorted(e.problems))}`);
  if (e.problems === undefined && e.valid === true && got.length > 0)
    diffs.push(`problems ${JSON.stringify(got)}`);
  for (const [metric, want] of Object.entries(e.scores ?? {})) {
    const have = (sc.scores as Record<string, { score: number }> | null)?.[metric]?.score;
    if (have !== want) diffs.push(`${metric} ${have}, expected ${want}`);
  }
  return diffs;
}

function checkCase(c: unknown, seen: Set<string>): string | null {
  if (typeof c !== "object" || c === null || Array.isArray(c)) return "a case must be an object";
  const o = c as Record<string, unknown>;
  if (typeof o.id !== "string" || o.id === "") return "a case needs an id";
  if (seen.has(o.id)) return `duplicate case id ${o.id}`;
  seen.add(o.id);
  const allowed = new Set(["id", "plan", "patch", "max_bytes", "expect"]);
  const extra = Object.keys(o).filter((k) => !allowed.has(k));
  if (extra.length) return `case ${o.id} has unknown keys ${extra.join(", ")}`;
  if (typeof o.expect !== "object" || o.expect === null) return `case ${o.id} has no expect`;
  const ex = o.expect as Record<string, unknown>;
  if (ex.error === undefined && ex.valid === undefined)
    return `case ${o.id} expects neither an error nor validity`;
  if (ex.valid === false && !Array.isArray(ex.problems))
    return `case ${o.id} expects invalid but names no problems`;
  return null;
}

/**
 * Evaluate every case of a manifest. Never throws for a bad case or manifest: those
 * are failures, so the decision is kill. The summary holds no time and no absolute path.
 */
export function runManifest(manifestFile: string): ManifestSummary {
  const dir = path.dirname(manifestFile);
  const failures: ManifestFailure[] = [];
  let suite = "plan-evaluator";
  let cases: unknown[] = [];
  try {
    const m = parseJsonText(fs.readFileSync(manifestFile, "utf8"), "manifest") as Record<string, unknown>;
    if (typeof m.suite_id === "string") suite = m.suite_id;
    if (!Array.isArray(m.cases) || m.cases.length === 0)
      failures.push({ id: "manifest", message: "manifest has no cases" });
    else cases = m.cases;
  } catch (e) {
    failures.push({ id: "manifest", message: `cannot read the manifest: ${(e as Error).message}` });
  }
  const seen = new Set<string>();
  let passed = 0;
  cases.forEach((c, i) => {
    const bad = checkCase(c, seen);
    const id = typeof (c as { id?: unknown })?.id === "string" ? (c as { id: string }).id : `#${i}`;
    let message = bad;
    if (!message) {
      try {
        message = runCase(c as ManifestCase, dir);
      } catch (e) {
        message = `threw ${isDwmError(e) ? e.code : ""} ${(e as Error).message}`.trim();
      }
    }
    if (message) failures.push({ id, message });
    else passed++;
  });
  return {
    kind: "manifest-summary",
    schema_version: "1",
    suite_id: suite,
    case_count: cases.length,
    required_count: cases.length,
    passed,
    failed: failures.length,
    skipped: 0,
    decision: failures.length === 0 ? "keep" : "kill",
    failures,
    skipped_ids: [],
  };
}
