import fs from "node:fs";
import { type SchemaName, validateSchema } from "@dwm/schemas";
import { writeFileAtomic } from "./atomic-fs.js";
import { canonicalJson, type Digest, digest } from "./canonical.js";
import { coreErrors } from "./errors.js";

/**
 * The on-disk form of a JSON artifact: canonical (RFC 8785) key order, two-space
 * indent, LF, trailing newline. Deterministic, readable, and diff-friendly; the
 * artifact's digest is over its canonical JSON, and verification also requires
 * the file bytes to be exactly this rendering, so no byte can change unnoticed.
 */
export function renderArtifact(value: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}

export interface WrittenArtifact {
  digest: Digest;
  bytes: number;
}

/** Validate against the schema, then write atomically in canonical rendering. */
export function writeArtifact(file: string, schema: SchemaName, value: unknown): WrittenArtifact {
  const r = validateSchema(schema, value);
  if (!r.ok) {
    // Writing an invalid artifact is a bug in DWM, not user error; keep it loud and coded.
    throw coreErrors.create(
      "ERR_ARTIFACT_SCHEMA",
      `refusing to write ${file}: it does not match schema ${schema}`,
      {
        details: { file, schema, problems: r.problems.slice(0, 20) },
      },
    );
  }
  const text = renderArtifact(value);
  writeFileAtomic(file, text);
  return { digest: digest(value), bytes: Buffer.byteLength(text) };
}

export interface ReadArtifactOptions {
  /** When given, the artifact's digest must equal it. */
  expectDigest?: string | undefined;
  /** Require the file bytes to be the canonical rendering (default true). */
  requireCanonical?: boolean;
}

/** Read, parse, validate and (optionally) check the digest of an artifact. Read-only. */
export function readArtifact<T>(
  file: string,
  schema: SchemaName,
  options: ReadArtifactOptions = {},
): { value: T; digest: Digest } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw coreErrors.create("ERR_ARTIFACT_MISSING", `${file} does not exist or cannot be read`, {
      details: { file },
      cause: e,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw coreErrors.create("ERR_ARTIFACT_PARSE", `${file} is not valid JSON: ${(e as Error).message}`, {
      details: { file },
    });
  }
  const r = validateSchema(schema, value);
  if (!r.ok) {
    throw coreErrors.create("ERR_ARTIFACT_SCHEMA", `${file} does not match schema ${schema}`, {
      details: { file, schema, problems: r.problems.slice(0, 20) },
    });
  }
  const d = digest(value);
  if (options.expectDigest !== undefined && d !== options.expectDigest) {
    throw coreErrors.create(
      "ERR_ARTIFACT_DIGEST",
      `${file} has digest ${d}, expected ${options.expectDigest}`,
      {
        details: { file, expected: options.expectDigest, actual: d },
      },
    );
  }
  if ((options.requireCanonical ?? true) && renderArtifact(value) !== text) {
    throw coreErrors.create("ERR_ARTIFACT_NOT_CANONICAL", `${file} is not in canonical rendering`, {
      details: { file },
    });
  }
  return { value: value as T, digest: d };
}
