import { type SchemaProblem, validateSchema } from "@dwm/schemas";
import type { PlanErrorCode } from "../errors.js";
import { type ProblemList, show } from "./problems.js";

/** Read the value a pointer names (for messages). */
function at(value: unknown, ptr: string): unknown {
  let cur = value;
  for (const raw of ptr.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean (true or false)",
  array: "a list",
  object: "an object",
  null: "null",
};

/** What each 0.6 either-or value must be, for the message. */
const ANY_OF_EXPECTED: Record<string, string> = {
  run: 'a non-empty list of texts (an argv) or a shell string with "shell": true',
  safe_default: 'a text or an object {"action": "stop" | "skip" | "ask", "before": <category or phase>}',
};

function lastKey(ptr: string): string {
  return (ptr.split("/").pop() ?? "").replace(/~1/g, "/").replace(/~0/g, "~");
}

/** A schema problem as the scorecard reports it. */
export interface CodedProblem {
  code: PlanErrorCode;
  pointer: string;
  message: string;
}

/** What a keyword's describer reads besides the ajv problem. */
interface ProblemContext {
  plan: unknown;
  /** The value at the problem's pointer. */
  value: unknown;
  /** The pointer, or "the plan" for the root, for messages. */
  where: string;
  /** Every problem ajv reported (an anyOf looks for problems inside its value). */
  all: readonly SchemaProblem[];
}

/** A coded problem for one ajv problem (pointer defaults to the problem's), or null to drop it. */
type Describer = (
  p: SchemaProblem,
  c: ProblemContext,
) => (Omit<CodedProblem, "pointer"> & { pointer?: string }) | null;

const emptyValue: Describer = (_p, c) => ({
  code: "ERR_PLAN_EMPTY_VALUE",
  message: `${c.where} must not be empty`,
});

const outOfRange: Describer = (p, c) => ({
  code: "ERR_PLAN_OUT_OF_RANGE",
  message: `${c.where} must be ${p.keyword === "minimum" ? ">=" : "<="} ${String(p.params.limit)}, not ${show(c.value)}`,
});

const BY_KEYWORD = new Map<string, Describer>([
  ["required", (p) => ({ code: "ERR_PLAN_MISSING_KEY", message: `missing key ${show(lastKey(p.pointer))}` })],
  [
    "additionalProperties",
    (p) => ({ code: "ERR_PLAN_UNEXPECTED_KEY", message: `unexpected key ${show(lastKey(p.pointer))}` }),
  ],
  [
    "type",
    (p, c) => ({
      code: "ERR_PLAN_TYPE",
      message: `${c.where} must be ${String(p.params.type)
        .split(",")
        .map((x) => TYPE_NAMES[x] ?? x)
        .join(" or ")}, not ${show(c.value)}`,
    }),
  ],
  ["pattern", emptyValue],
  ["minLength", emptyValue],
  ["minItems", (_p, c) => ({ code: "ERR_PLAN_EMPTY_LIST", message: `${c.where} must be a non-empty list` })],
  [
    "uniqueItems",
    (p, c) => {
      // ajv reports items i < j; point at the later copy.
      const [first, dup] = [Number(p.params.i), Number(p.params.j)].sort((a, b) => a - b);
      return {
        code: "ERR_PLAN_DUPLICATE_VALUE",
        pointer: `${p.pointer}/${dup}`,
        message: `${c.where} repeats ${show(at(c.plan, `${p.pointer}/${first}`))} (items ${first} and ${dup})`,
      };
    },
  ],
  ["minimum", outOfRange],
  ["maximum", outOfRange],
  ["const", constProblem],
  [
    "enum",
    (p, c) => ({
      code: "ERR_PLAN_UNKNOWN_VALUE",
      message: `${c.where} is ${show(c.value)}; allowed: ${(p.params.allowedValues as unknown[]).map((v) => show(v)).join(", ")}`,
    }),
  ],
  ["anyOf", anyOfProblem],
]);

/** A const says which value is the only one allowed; created_by and requires_user_approval have codes of their own. */
function constProblem(p: SchemaProblem, c: ProblemContext): Omit<CodedProblem, "pointer"> {
  if (p.pointer === "/created_by")
    return {
      code: "ERR_PLAN_CREATED_BY",
      message: `created_by is ${show(c.value)}, not "dynamic-workflow-designer"`,
    };
  if (lastKey(p.pointer) === "requires_user_approval")
    return {
      code: "ERR_PLAN_GATE_APPROVAL",
      message: `${c.where} is ${show(c.value)}; risk gates must require user approval (true)`,
    };
  return {
    code: "ERR_PLAN_UNKNOWN_VALUE",
    message: `${c.where} must be ${show(p.params.allowedValue)}, not ${show(c.value)}`,
  };
}

/** An either-or value none of whose branches fits; null when problems inside it say more. */
function anyOfProblem(p: SchemaProblem, c: ProblemContext): Omit<CodedProblem, "pointer"> | null {
  // An object that fails inside (a structured safe_default) is reported by its inner problems.
  if (c.all.some((q) => q.pointer.startsWith(`${p.pointer}/`))) return null;
  const key = lastKey(p.pointer);
  const expected = ANY_OF_EXPECTED[key];
  const message =
    key === "downgrade_target"
      ? `${c.where} is ${show(c.value)}; allowed: "direct-codex", "workflow-router", "simple-plan", null`
      : expected !== undefined
        ? `${c.where} must be ${expected}, not ${show(c.value)}`
        : `${c.where} is ${show(c.value)}, which the schema does not allow`;
  return { code: "ERR_PLAN_UNKNOWN_VALUE", message };
}

/** The coded problem for one ajv problem (not a schema_version one), or null when another problem covers it. */
export function describeSchemaProblem(
  p: SchemaProblem,
  plan: unknown,
  all: readonly SchemaProblem[],
): CodedProblem | null {
  const c: ProblemContext = { plan, value: at(plan, p.pointer), where: p.pointer || "the plan", all };
  const describer = BY_KEYWORD.get(p.keyword);
  const found = describer
    ? describer(p, c)
    : { code: "ERR_PLAN_UNKNOWN_VALUE" as const, message: `${c.where}: ${p.message}` };
  return found === null ? null : { pointer: p.pointer, ...found };
}

/** The one problem a wrong or missing schema_version gives: no branch of the schema applies. */
function versionProblem(plan: unknown): CodedProblem {
  const v = at(plan, "/schema_version");
  return {
    code: "ERR_PLAN_SCHEMA_VERSION",
    pointer: "/schema_version",
    message:
      v === undefined
        ? "schema_version is missing"
        : `schema_version ${show(v)} is not supported (use "0.6", or "0.5" for a plan of the earlier version)`,
  };
}

/**
 * Validate against schemas/workflow-plan.schema.json and turn every ajv error into a
 * coded problem. Returns false when schema_version selects no branch (nothing else
 * can be checked then).
 */
export function schemaProblems(plan: unknown, out: ProblemList): boolean {
  const r = validateSchema("workflow-plan", plan);
  if (r.ok) return true;
  let versionOk = true;
  // anyOf (nullable enums) reports each branch's failure too; keep one problem per value.
  const anyOfAt = new Set(r.problems.filter((p) => p.keyword === "anyOf").map((p) => p.pointer));
  for (const p of r.problems) {
    let found: CodedProblem | null;
    if (p.pointer === "/schema_version" || p.keyword === "discriminator") {
      versionOk = false;
      found = versionProblem(plan);
    } else if (anyOfAt.has(p.pointer) && p.keyword !== "anyOf") {
      found = null;
    } else {
      found = describeSchemaProblem(p, plan, r.problems);
    }
    if (found) out.add(found.code, found.pointer, found.message);
  }
  return versionOk;
}
