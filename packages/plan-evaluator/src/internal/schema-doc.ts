// Renders skill/references/workflow-plan-schema.md from schemas/workflow-plan.schema.json,
// so the reference an agent reads cannot drift from the schema the evaluator enforces.
import { loadSchema } from "@dwm/schemas";

type Schema = Record<string, unknown>;

function refName(s: Schema): string | null {
  const ref = s.$ref;
  return typeof ref === "string" ? (ref.split("/").pop() ?? null) : null;
}

/** The shared text types, named in words rather than as links. */
const NAMED_TYPES = new Map([
  ["Text", "text (non-blank)"],
  ["TextList", "list of text"],
  ["NonEmptyTextList", "non-empty list of text"],
]);

function describe(s: Schema, defs: Record<string, Schema>): string {
  const name = refName(s);
  if (name) return describeRef(name, defs);
  if ("const" in s) return `exactly \`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(", ")}`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).map((x) => describe(x, defs)).join(", or ");
  return describeType(s, defs);
}

/** A $ref: a shared text type in words, an object as a link to its section, anything else inlined. */
function describeRef(name: string, defs: Record<string, Schema>): string {
  const named = NAMED_TYPES.get(name);
  if (named !== undefined) return named;
  const d = defs[name] as Schema;
  if (d.type === "object") return `object: [${d.title as string}](#${String(d.title).toLowerCase()})`;
  return describe(d, defs);
}

function describeType(s: Schema, defs: Record<string, Schema>): string {
  if (s.type === "null") return "`null`";
  if (s.type === "boolean") return "boolean";
  if (s.type === "integer") return `integer${typeof s.minimum === "number" ? ` >= ${s.minimum}` : ""}`;
  if (s.type === "array") {
    const items = describe(s.items as Schema, defs);
    const parts = [s.minItems ? "non-empty list" : "list", `of ${items}`];
    if (s.uniqueItems) parts.push("(unique)");
    return parts.join(" ");
  }
  return String(s.type ?? "value");
}

/** The markdown reference of workflow.plan.json 0.5 and 0.6, generated from the schema. */
export function renderSchemaReference(): string {
  const schema = loadSchema("workflow-plan");
  const defs = schema.$defs as Record<string, Schema>;
  const lines = [
    "# workflow.plan.json reference (schema 0.5 and 0.6)",
    "",
    "Generated from `schemas/workflow-plan.schema.json` by @dwm/plan-evaluator; a test fails when it is out of date.",
    "Every object has exactly these keys: a missing or an extra key is an error (`ERR_PLAN_MISSING_KEY`,",
    "`ERR_PLAN_UNEXPECTED_KEY`); a key marked optional may be left out. Text is never blank. `schema_version`",
    'picks the branch: "0.5" reads WorkflowPlan05 and the objects it names, "0.6" reads WorkflowPlan06, whose',
    "phases, handoffs and risk gates are the `06` objects. The rules that join several fields (activation and",
    "downgrade, the phase graph, fan-out, gate and command phases, risk gates, the first slice) are in",
    "`../SKILL.md`; `dwm evaluate` checks all of them.",
    "",
  ];
  const order = Object.keys(defs).filter((k) => (defs[k] as Schema).type === "object");
  for (const key of order) {
    const d = defs[key] as Schema;
    lines.push(`## ${d.title as string}`, "");
    if (typeof d.description === "string") lines.push(d.description, "");
    lines.push("| key | value |", "|---|---|");
    const props = d.properties as Record<string, Schema>;
    const required = d.required as string[];
    for (const k of Object.keys(props)) {
      const optional = required.includes(k) ? "" : " (optional)";
      lines.push(`| \`${k}\`${optional} | ${describe(props[k] as Schema, defs).replace(/\|/g, "\\|")} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
