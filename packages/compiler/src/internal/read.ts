import fs from "node:fs";
import { type Digest, digest, digestBytes, isDwmError, renderArtifact, resolveInside } from "@dwm/core";
import { type SchemaName, validateSchema } from "@dwm/schemas";

/** The bytes of a run file, refusing symlinks and non-regular files; a reason instead of a throw. */
export type ReadResult =
  | { ok: true; text: string; bytes: Buffer }
  | { ok: false; missing: boolean; reason: string };

/** Why a run directory cannot be read as one (missing, not a directory, a symlink), or null. */
export function runDirProblem(runDir: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(runDir);
  } catch {
    return `the run directory ${runDir} does not exist`;
  }
  if (st.isSymbolicLink()) return `the run directory ${runDir} is a symbolic link`;
  if (!st.isDirectory()) return `${runDir} is not a directory`;
  return null;
}

export function readRunFile(runDir: string, rel: string): ReadResult {
  let file: string;
  try {
    file = resolveInside(runDir, rel, "run file");
  } catch (e) {
    return { ok: false, missing: false, reason: isDwmError(e) ? e.message : String(e) };
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return { ok: false, missing: true, reason: `${rel} is missing` };
  }
  if (!st.isFile()) return { ok: false, missing: false, reason: `${rel} is not a regular file` };
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    return {
      ok: false,
      missing: false,
      reason: `${rel} cannot be read: ${(e as NodeJS.ErrnoException).code}`,
    };
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return { ok: true, text, bytes };
}

/** A JSON artifact checked against its schema, its canonical rendering and (optionally) a digest. */
export type JsonCheck<T> =
  | { ok: true; value: T; digest: Digest }
  | { ok: false; reason: string; value: T | null; digest: Digest };

export function checkJson<T>(
  text: string,
  bytes: Buffer,
  schema: SchemaName | null,
  expected?: string,
): JsonCheck<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "is not valid JSON", value: null, digest: digestBytes(bytes) };
  }
  let d: Digest;
  try {
    d = digest(value);
  } catch {
    return { ok: false, reason: "is not plain JSON", value: null, digest: digestBytes(bytes) };
  }
  if (schema !== null) {
    const r = validateSchema(schema, value);
    if (!r.ok) {
      const p = r.problems[0];
      return {
        ok: false,
        reason: `does not match schema ${schema} (${p?.pointer || "/"} ${p?.message})`,
        value: null,
        digest: d,
      };
    }
  }
  if (expected !== undefined && d !== expected) {
    return { ok: false, reason: "has changed since the run was compiled", value: value as T, digest: d };
  }
  if (renderArtifact(value) !== text) {
    return {
      ok: false,
      reason: "is not in canonical rendering (edited by hand?)",
      value: value as T,
      digest: d,
    };
  }
  return { ok: true, value: value as T, digest: d };
}
