import { mcpErrors } from "./errors.js";

type Schema = Record<string, unknown>;

/** One way the arguments miss their schema: where (a JSON pointer) and how. */
export interface ArgumentProblem {
  pointer: string;
  message: string;
}

/**
 * The keywords the tools' input schemas may use: the checker below implements exactly these
 * (a test holds every input schema to them), so a schema cannot ask for a check that is not made.
 */
export const INPUT_SCHEMA_KEYWORDS = [
  "type",
  "properties",
  "required",
  "additionalProperties",
  "enum",
  "const",
  "oneOf",
  "minLength",
  "minimum",
  "description",
  "title",
] as const;

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "integer":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "null":
      return v === null;
    default:
      return typeof v === type;
  }
}

/** Where `value` fails `schema` (the keywords of INPUT_SCHEMA_KEYWORDS), empty when it passes. */
export function checkArguments(schema: Schema, value: unknown, pointer = ""): ArgumentProblem[] {
  const at = pointer || "/";
  const types = schema.type === undefined ? [] : ([] as unknown[]).concat(schema.type);
  if (types.length > 0 && !types.some((t) => typeOk(t as string, value)))
    return [{ pointer: at, message: `must be ${types.join(" or ")}` }];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    return [
      { pointer: at, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}` },
    ];
  if ("const" in schema && schema.const !== value)
    return [{ pointer: at, message: `must be ${JSON.stringify(schema.const)}` }];
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((s) => checkArguments(s, value, pointer).length === 0);
    if (passing.length !== 1) return [{ pointer: at, message: "must match exactly one of its forms" }];
  }
  if (typeof schema.minLength === "number" && typeof value === "string" && value.length < schema.minLength)
    return [{ pointer: at, message: `must have at least ${schema.minLength} character(s)` }];
  if (typeof schema.minimum === "number" && typeof value === "number" && value < schema.minimum)
    return [{ pointer: at, message: `must be ≥ ${schema.minimum}` }];
  if (typeOk("object", value) && schema.properties) return checkObject(schema, value as Schema, pointer);
  return [];
}

function checkObject(schema: Schema, value: Schema, pointer: string): ArgumentProblem[] {
  const props = schema.properties as Record<string, Schema>;
  const problems: ArgumentProblem[] = [];
  for (const r of (schema.required as string[] | undefined) ?? []) {
    if (!(r in value)) problems.push({ pointer: `${pointer}/${r}`, message: "is required" });
  }
  for (const [k, v] of Object.entries(value)) {
    const sub = props[k];
    if (sub) problems.push(...checkArguments(sub, v, `${pointer}/${k}`));
    else if (schema.additionalProperties === false)
      problems.push({ pointer: `${pointer}/${k}`, message: `is not an argument of this tool` });
  }
  return problems;
}

/** The arguments, checked against the tool's input schema; ERR_MCP_ARGUMENTS listing every problem otherwise. */
export function validArguments(tool: string, schema: Schema, args: unknown): Record<string, unknown> {
  const value = args ?? {};
  const problems = checkArguments(schema, value);
  if (problems.length === 0) return value as Record<string, unknown>;
  throw mcpErrors.create(
    "ERR_MCP_ARGUMENTS",
    `${tool}: ${problems.map((p) => `${p.pointer} ${p.message}`).join("; ")}`,
    { details: { tool, problems } },
  );
}
