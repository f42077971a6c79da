import { validateSchema } from "@dwm/schemas";
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
    const value = at(plan, p.pointer);
    const where = p.pointer || "the plan";
    if (p.pointer === "/schema_version" || p.keyword === "discriminator") {
      versionOk = false;
      const v = at(plan, "/schema_version");
      out.add(
        "ERR_PLAN_SCHEMA_VERSION",
        "/schema_version",
        v === undefined
          ? "schema_version is missing"
          : `schema_version ${show(v)} is not supported (use "0.6", or "0.5" for a plan of the earlier version)`,
      );
      continue;
    }
    if (anyOfAt.has(p.pointer) && p.keyword !== "anyOf") continue;
    let code: PlanErrorCode;
    let message: string;
    switch (p.keyword) {
      case "required":
        code = "ERR_PLAN_MISSING_KEY";
        message = `missing key ${show(lastKey(p.pointer))}`;
        break;
      case "additionalProperties":
        code = "ERR_PLAN_UNEXPECTED_KEY";
        message = `unexpected key ${show(lastKey(p.pointer))}`;
        break;
      case "type": {
        code = "ERR_PLAN_TYPE";
        const t = String(p.params.type);
        message = `${where} must be ${t
          .split(",")
          .map((x) => TYPE_NAMES[x] ?? x)
          .join(" or ")}, not ${show(value)}`;
        break;
      }
      case "pattern":
      case "minLength":
        code = "ERR_PLAN_EMPTY_VALUE";
        message = `${where} must not be empty`;
        break;
      case "minItems":
        code = "ERR_PLAN_EMPTY_LIST";
        message = `${where} must be a non-empty list`;
        break;
      case "uniqueItems": {
        // ajv reports items i < j; point at the later copy.
        const [first, dup] = [Number(p.params.i), Number(p.params.j)].sort((a, b) => a - b);
        code = "ERR_PLAN_DUPLICATE_VALUE";
        message = `${where} repeats ${show(at(plan, `${p.pointer}/${first}`))} (items ${first} and ${dup})`;
        out.add(code, `${p.pointer}/${dup}`, message);
        continue;
      }
      case "minimum":
      case "maximum":
        code = "ERR_PLAN_OUT_OF_RANGE";
        message = `${where} must be ${p.keyword === "minimum" ? ">=" : "<="} ${String(p.params.limit)}, not ${show(value)}`;
        break;
      case "const":
        if (p.pointer === "/created_by") {
          code = "ERR_PLAN_CREATED_BY";
          message = `created_by is ${show(value)}, not "dynamic-workflow-designer"`;
        } else if (lastKey(p.pointer) === "requires_user_approval") {
          code = "ERR_PLAN_GATE_APPROVAL";
          message = `${where} is ${show(value)}; risk gates must require user approval (true)`;
        } else {
          code = "ERR_PLAN_UNKNOWN_VALUE";
          message = `${where} must be ${show(p.params.allowedValue)}, not ${show(value)}`;
        }
        break;
      case "enum":
        code = "ERR_PLAN_UNKNOWN_VALUE";
        message = `${where} is ${show(value)}; allowed: ${(p.params.allowedValues as unknown[]).map((v) => show(v)).join(", ")}`;
        break;
      case "anyOf": {
        // An object that fails inside (a structured safe_default) is reported by its inner problems.
        if (r.problems.some((q) => q.pointer.startsWith(`${p.pointer}/`))) continue;
        code = "ERR_PLAN_UNKNOWN_VALUE";
        const key = lastKey(p.pointer);
        message =
          key === "downgrade_target"
            ? `${where} is ${show(value)}; allowed: "direct-codex", "workflow-router", "simple-plan", null`
            : ANY_OF_EXPECTED[key] !== undefined
              ? `${where} must be ${ANY_OF_EXPECTED[key]}, not ${show(value)}`
              : `${where} is ${show(value)}, which the schema does not allow`;
        break;
      }
      default:
        code = "ERR_PLAN_UNKNOWN_VALUE";
        message = `${where}: ${p.message}`;
    }
    out.add(code, p.pointer, message);
  }
  return versionOk;
}
