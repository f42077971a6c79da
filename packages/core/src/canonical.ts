import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";

/** A content digest: `sha256:` + 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

/** RFC 8785 (JCS) canonical JSON of a JSON value. */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, "");
  return canonicalize(value);
}

/** Digest of raw bytes (text files DWM writes are hashed as their UTF-8 bytes). */
export function digestBytes(data: string | Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Digest of a JSON value: sha256 of its canonical JSON. */
export function digest(value: unknown): Digest {
  return digestBytes(canonicalJson(value));
}

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === "string" && DIGEST_PATTERN.test(s);
}

/** The first `n` hex digits of a digest, for short ids. */
export function shortDigest(d: Digest, n = 12): string {
  return d.slice("sha256:".length, "sha256:".length + n);
}

/**
 * The on-disk form of a JSON artifact: canonical (RFC 8785) key order, two-space
 * indent, LF, trailing newline. Deterministic, readable, and diff-friendly; the
 * artifact's digest is over its canonical JSON, and verification also requires
 * the file bytes to be exactly this rendering, so no byte can change unnoticed.
 */
export function renderArtifact(value: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}

// JCS is defined for I-JSON; refuse what JSON cannot carry instead of hashing a lossy form.
function assertJsonValue(value: unknown, at: string): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`non-finite number at ${at || "/"}`);
      return;
    case "object":
      if (value === null) return;
      if (Array.isArray(value)) assertJsonArray(value, at);
      else assertPlainObject(value, at);
      return;
    default:
      throw new TypeError(`${typeof value} is not JSON at ${at || "/"}`);
  }
}

function assertJsonArray(value: readonly unknown[], at: string): void {
  for (let i = 0; i < value.length; i++) assertJsonValue(value[i], `${at}/${i}`);
}

function assertPlainObject(value: object, at: string): void {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new TypeError(`not a plain object at ${at || "/"}`);
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) throw new TypeError(`undefined value at ${at}/${k}`);
    assertJsonValue(v, `${at}/${k}`);
  }
}
