import fs from "node:fs";
import {
  type ArtifactProblem,
  checkArtifact,
  checkArtifactBytes,
  type Digest,
  isReadProblem,
} from "@dwm/core";
import type { SchemaName } from "@dwm/schemas";

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

/**
 * A run file checked by @dwm/core, worded for staleness reports. `stage` "read": the
 * file could not be read at all (missing, a symlink, not a regular file); "content": it
 * was read, and is not what run.json records.
 */
export type RunFileCheck<T> =
  | { ok: true; value: T; digest: Digest }
  | { ok: false; stage: "read" | "content"; message: string; digest: Digest | null };

const LABEL = "run file";

/** A JSON artifact of a run store: schema (null: any JSON), digest when `expected` is given, canonical bytes. */
export function checkRunJson<T>(
  runDir: string,
  rel: string,
  schema: SchemaName | null,
  expected?: string,
): RunFileCheck<T> {
  const c = checkArtifact<T>(rel, schema, { root: runDir, label: LABEL, expectDigest: expected });
  if (c.ok) return { ok: true, value: c.value, digest: c.digest };
  const p = c.problems[0];
  return {
    ok: false,
    stage: isReadProblem(p.kind) ? "read" : "content",
    message: compilerWording(p),
    digest: c.digest,
  };
}

/** A text artifact of a run store (a prompt): its text when its bytes have the `expected` digest. */
export function checkRunText(runDir: string, rel: string, expected: string): RunFileCheck<string> {
  const c = checkArtifactBytes(rel, { root: runDir, label: LABEL, expectDigest: expected });
  if (c.ok) return { ok: true, value: c.bytes.toString("utf8"), digest: c.digest };
  const p = c.problems[0];
  return {
    ok: false,
    stage: isReadProblem(p.kind) ? "read" : "content",
    message: p.kind === "digest" ? `${rel} has changed since the run was compiled` : p.message,
    digest: c.digest,
  };
}

/** The compiler's long-standing wording of a content problem (the file first, then what is wrong). */
function compilerWording(p: ArtifactProblem): string {
  switch (p.kind) {
    case "not-json":
      return `${p.file} is not valid JSON`;
    case "not-plain-json":
      return `${p.file} is not plain JSON`;
    case "schema": {
      const first = p.detail.problems?.[0];
      return `${p.file} does not match schema ${p.detail.schema} (${first?.pointer || "/"} ${first?.message})`;
    }
    case "digest":
      return `${p.file} has changed since the run was compiled`;
    case "not-canonical":
      return `${p.file} is not in canonical rendering (edited by hand?)`;
    default:
      return p.message;
  }
}
