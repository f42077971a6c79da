import fs from "node:fs";
import { type SchemaName, type SchemaProblem, validateSchema } from "@dwm/schemas";
import { canonicalArtifact, type Digest, digest, digestBytes, renderArtifact } from "./canonical.js";
import { isDwmError } from "./errors.js";
import { resolveInside } from "./paths.js";

/**
 * What is wrong with an artifact file, in the order the check meets it:
 * reading it (missing … unreadable), then its content (not-json … not-canonical).
 */
export type ArtifactProblemKind =
  /** Nothing at the path. */
  | "missing"
  /** Inside a root: the path is, or goes through, a symbolic link. */
  | "symlink"
  /** Inside a root: the relative path is absolute, climbs with `..`, or is malformed. */
  | "unsafe-path"
  /** A directory, device or other non-regular file. */
  | "not-a-file"
  /** It exists but cannot be read (permissions, I/O, a path component that is a file). */
  | "unreadable"
  /** The bytes are not JSON. */
  | "not-json"
  /** JSON whose `kind` names another artifact than its schema does. */
  | "wrong-kind"
  /** JSON that does not match its schema. */
  | "schema"
  /** JSON that canonical JSON cannot represent (a number out of range). */
  | "not-plain-json"
  /** The digest is not the one expected. */
  | "digest"
  /** The bytes are not the canonical rendering of the value. */
  | "not-canonical";

const READ_PROBLEMS: ReadonlySet<ArtifactProblemKind> = new Set([
  "missing",
  "symlink",
  "unsafe-path",
  "not-a-file",
  "unreadable",
]);

/** True for the kinds that mean the file could not be read at all (as opposed to read with bad content). */
export function isReadProblem(kind: ArtifactProblemKind): boolean {
  return READ_PROBLEMS.has(kind);
}

/** One problem of one artifact file: its kind, the file as the caller named it, and a one-line message. */
export interface ArtifactProblem {
  kind: ArtifactProblemKind;
  /** The file as the caller named it (relative to the root when a root was given). */
  file: string;
  /** The file and what is wrong with it, in one line. */
  message: string;
  /** What the check saw; which fields are set depends on `kind`. */
  detail: ArtifactProblemDetail;
}

/** The facts behind an artifact problem, for callers that word or code it their own way. */
export interface ArtifactProblemDetail {
  /** unreadable: the system error code (EACCES, EIO, ENOTDIR …), when there is one. */
  errno?: string;
  /** not-json, not-plain-json: the parser's or the canonicaliser's own words. */
  reason?: string;
  /** wrong-kind, schema: the schema the value was checked against. */
  schema?: SchemaName;
  /** schema, wrong-kind: the schema's problems (at most 20). */
  problems?: SchemaProblem[];
  /** digest: the expected and actual digests; wrong-kind: the kind expected and the kind found. */
  expected?: string;
  actual?: string;
  /** The error behind a read problem, for chaining; never serialised. */
  cause?: unknown;
}

/** Where and how an artifact file is read. */
export interface ArtifactReadOptions {
  /**
   * Read `file` as a path relative to this directory, refusing `..`, absolute paths and
   * symbolic links anywhere below the root (run stores). Without it `file` is read as given.
   */
  root?: string | undefined;
  /** How messages about an unsafe or symlinked path name it (default "path"). */
  label?: string | undefined;
}

/** What an artifact's content must be. */
export interface CheckArtifactOptions extends ArtifactReadOptions {
  /** When given, the artifact's digest must equal it. */
  expectDigest?: string | null | undefined;
  /** Require the file bytes to be the canonical rendering (default true). */
  requireCanonical?: boolean | undefined;
}

/** A file's bytes, or the problem that kept them from being read. */
export type ArtifactFileRead = { ok: true; bytes: Buffer } | { ok: false; problem: ArtifactProblem };

/**
 * The outcome of checking a JSON artifact. On failure `problems` lists what is wrong
 * in check order: a read, parse or schema problem ends the check; a digest and a
 * rendering problem can both be listed, and then `value` is still the parsed value.
 * `digest` is the value's digest when it has one, else that of the bytes read.
 */
export type ArtifactCheck<T> =
  | { ok: true; value: T; digest: Digest; problems: [] }
  | {
      ok: false;
      value: T | undefined;
      digest: Digest | null;
      problems: [ArtifactProblem, ...ArtifactProblem[]];
    };

/** The outcome of checking a raw (non-JSON) artifact against its digest. */
export type ArtifactBytesCheck =
  | { ok: true; bytes: Buffer; digest: Digest; problems: [] }
  | { ok: false; bytes: Buffer | null; digest: Digest | null; problems: [ArtifactProblem] };

function problem(
  kind: ArtifactProblemKind,
  file: string,
  message: string,
  detail: ArtifactProblemDetail = {},
): ArtifactProblem {
  return { kind, file, message, detail };
}

/** Read an artifact file's bytes, or say why not. Never follows a symlink below `root`. Read-only. */
export function readArtifactFile(file: string, options: ArtifactReadOptions = {}): ArtifactFileRead {
  const located = locate(file, options);
  if (typeof located !== "string") return { ok: false, problem: located };
  const notFile = regularFileProblem(located, file, options.root === undefined);
  if (notFile) return { ok: false, problem: notFile };
  try {
    return { ok: true, bytes: fs.readFileSync(located) };
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    return {
      ok: false,
      problem: problem("unreadable", file, `${file} cannot be read: ${errno}`, {
        ...(errno === undefined ? {} : { errno }),
        cause: e,
      }),
    };
  }
}

/** The absolute path to read, or why the path itself is refused. */
function locate(file: string, options: ArtifactReadOptions): string | ArtifactProblem {
  if (options.root === undefined) return file;
  try {
    return resolveInside(options.root, file, options.label ?? "path");
  } catch (e) {
    if (!isDwmError(e)) {
      const errno = (e as NodeJS.ErrnoException).code;
      return problem("unreadable", file, String(e), { ...(errno === undefined ? {} : { errno }), cause: e });
    }
    const kind = e.code === "ERR_OUT_PATH_SYMLINK" ? "symlink" : "unsafe-path";
    return problem(kind, file, e.message, { cause: e });
  }
}

/** Missing or not a regular file, else null. Outside a root a symlink is followed, as any reader would. */
function regularFileProblem(full: string, file: string, follow: boolean): ArtifactProblem | null {
  let st: fs.Stats;
  try {
    st = follow ? fs.statSync(full) : fs.lstatSync(full);
  } catch (e) {
    return problem("missing", file, `${file} is missing`, { cause: e });
  }
  return st.isFile() ? null : problem("not-a-file", file, `${file} is not a regular file`);
}

/**
 * Check a JSON artifact without throwing: read → parse → schema → digest → canonical
 * rendering. `schema` null accepts any JSON value (a plan snapshot). Read-only.
 */
export function checkArtifact<T>(
  file: string,
  schema: SchemaName | null,
  options: CheckArtifactOptions = {},
): ArtifactCheck<T> {
  const read = readArtifactFile(file, options);
  if (!read.ok) return { ok: false, value: undefined, digest: null, problems: [read.problem] };
  return checkArtifactContent<T>(read.bytes, file, schema, options);
}

/** The content half of checkArtifact, for bytes already in hand: parse → schema → digest → rendering. */
export function checkArtifactContent<T>(
  bytes: Buffer,
  file: string,
  schema: SchemaName | null,
  options: Pick<CheckArtifactOptions, "expectDigest" | "requireCanonical"> = {},
): ArtifactCheck<T> {
  const parsed = parseArtifact(bytes, file);
  if ("problem" in parsed) return failed<T>(digestBytes(bytes), parsed.problem);
  const value = parsed.value;
  const wantRendering = options.requireCanonical !== false;
  const canonical = canonicalDigest(value, file, wantRendering);
  const invalid = schema === null ? null : schemaProblem(value, schema, file);
  if (invalid) return failed<T>(canonical.digest ?? digestBytes(bytes), invalid);
  if (canonical.digest === null) return failed<T>(digestBytes(bytes), canonical.problem);
  const problems = [
    digestProblem(canonical.digest, options.expectDigest ?? null, file),
    wantRendering ? renderedProblem(canonical.rendered, bytes, file) : null,
  ].filter((p): p is ArtifactProblem => p !== null);
  const [first, ...rest] = problems;
  if (first) return { ok: false, value: value as T, digest: canonical.digest, problems: [first, ...rest] };
  return { ok: true, value: value as T, digest: canonical.digest, problems: [] };
}

function failed<T>(d: Digest, p: ArtifactProblem): ArtifactCheck<T> {
  return { ok: false, value: undefined, digest: d, problems: [p] };
}

/** Check a raw artifact (a prompt, a log, evidence) against the sha256 of its bytes. Read-only. */
export function checkArtifactBytes(
  file: string,
  options: ArtifactReadOptions & { expectDigest?: string | null | undefined } = {},
): ArtifactBytesCheck {
  const read = readArtifactFile(file, options);
  if (!read.ok) return { ok: false, bytes: null, digest: null, problems: [read.problem] };
  const actual = digestBytes(read.bytes);
  const wrong = digestProblem(actual, options.expectDigest ?? null, file);
  if (wrong) return { ok: false, bytes: read.bytes, digest: actual, problems: [wrong] };
  return { ok: true, bytes: read.bytes, digest: actual, problems: [] };
}

/** The JSON value of the bytes, or a not-json problem. Bytes are decoded as UTF-8 as they are (a BOM is not JSON). */
export function parseArtifact(
  bytes: Buffer,
  file: string,
): { value: unknown } | { problem: ArtifactProblem } {
  try {
    return { value: JSON.parse(bytes.toString("utf8")) };
  } catch (e) {
    const reason = (e as Error).message;
    return { problem: problem("not-json", file, `${file} is not valid JSON: ${reason}`, { reason }) };
  }
}

/**
 * Why a value does not match its schema, or null. A value whose `kind` names another
 * artifact is reported as that (a gate where a packet belongs), not as its first field error.
 */
export function schemaProblem(value: unknown, schema: SchemaName, file: string): ArtifactProblem | null {
  const r = validateSchema(schema, value);
  if (r.ok) return null;
  const problems = r.problems.slice(0, 20);
  const kindConst = r.problems.find((p) => p.pointer === "/kind" && p.keyword === "const");
  if (kindConst !== undefined) {
    const expected = String(kindConst.params.allowedValue);
    const actual = JSON.stringify((value as { kind?: unknown }).kind);
    return problem("wrong-kind", file, `${file} is a ${actual} artifact, not a ${JSON.stringify(expected)}`, {
      schema,
      problems,
      expected,
      actual,
    });
  }
  const p = r.problems[0];
  return problem(
    "schema",
    file,
    `${file} does not match schema ${schema}: ${p ? `${p.pointer || "/"} ${p.message}` : ""}`,
    { schema, problems },
  );
}

/** The value's digest and (when asked) its rendering, from one walk; a problem when it cannot be canonicalised. */
function canonicalDigest(
  value: unknown,
  file: string,
  withRendering: boolean,
): { digest: Digest; rendered: string; problem?: undefined } | { digest: null; problem: ArtifactProblem } {
  try {
    if (!withRendering) return { digest: digest(value), rendered: "" };
    const forms = canonicalArtifact(value);
    return { digest: forms.digest, rendered: forms.rendered };
  } catch (e) {
    const reason = (e as Error).message;
    return {
      digest: null,
      problem: problem("not-plain-json", file, `${file} cannot be canonicalised: ${reason}`, { reason }),
    };
  }
}

/** A digest problem when `expected` is given and differs from `actual`, else null. */
export function digestProblem(actual: Digest, expected: string | null, file: string): ArtifactProblem | null {
  if (expected === null || actual === expected) return null;
  return problem("digest", file, `${file} has digest ${actual}, expected ${expected}`, { expected, actual });
}

/** A rendering problem unless the bytes are exactly the canonical rendering of the value. */
export function renderingProblem(value: unknown, bytes: Buffer, file: string): ArtifactProblem | null {
  return renderedProblem(renderArtifact(value), bytes, file);
}

function renderedProblem(rendered: string, bytes: Buffer, file: string): ArtifactProblem | null {
  if (Buffer.byteLength(rendered) === bytes.length && Buffer.from(rendered, "utf8").equals(bytes))
    return null;
  return problem("not-canonical", file, `${file} is not in canonical rendering`);
}
