import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ErrorObject } from "ajv";
import { SCHEMA_NAMES, type SchemaName, VALIDATORS } from "./generated/index.js";

/** One schema violation, located by a JSON pointer into the validated value. */
export interface SchemaProblem {
  pointer: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

export type ValidationResult = { ok: true; problems: [] } | { ok: false; problems: SchemaProblem[] };

function toProblem(e: ErrorObject): SchemaProblem {
  let pointer = e.instancePath;
  // Point at the missing or extra key itself, not at its parent object.
  if (e.keyword === "required") pointer += `/${escapePointer(String(e.params.missingProperty))}`;
  if (e.keyword === "additionalProperties")
    pointer += `/${escapePointer(String(e.params.additionalProperty))}`;
  if (e.keyword === "unevaluatedProperties")
    pointer += `/${escapePointer(String(e.params.unevaluatedProperty))}`;
  return { pointer, keyword: e.keyword, message: e.message ?? e.keyword, params: { ...e.params } };
}

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Validate a value against one of the DWM schemas with its precompiled validator. */
export function validateSchema(name: SchemaName, value: unknown): ValidationResult {
  const validate = VALIDATORS[name];
  if (!validate) throw new TypeError(`unknown schema ${name}`);
  if (validate(value)) return { ok: true, problems: [] };
  return { ok: false, problems: (validate.errors ?? []).map(toProblem) };
}

/** Validate and throw a TypeError listing the problems; for values DWM itself produced. */
export function assertValid(name: SchemaName, value: unknown): void {
  const r = validateSchema(name, value);
  if (!r.ok) {
    const list = r.problems.map((p) => `${p.pointer || "/"} ${p.message}`).join("; ");
    throw new TypeError(`value does not match schema ${name}: ${list}`);
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Absolute path of a schema file shipped with this package. */
export function schemaPath(name: SchemaName): string {
  if (!SCHEMA_NAMES.includes(name)) throw new TypeError(`unknown schema ${name}`);
  // src/ and dist/ both sit one level below the package root.
  return path.join(here, "..", `${name}.schema.json`);
}

/** The parsed JSON Schema document. */
export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(schemaPath(name), "utf8")) as Record<string, unknown>;
}
