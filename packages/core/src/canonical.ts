import crypto from "node:crypto";
import { canonicalize } from "json-canonicalize";

/** A content digest: `sha256:` + 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

/** RFC 8785 (JCS) canonical JSON of a JSON value. */
export function canonicalJson(value: unknown): string {
  return forms(value, "canonical").canonical;
}

/** Digest of raw bytes (text files DWM writes are hashed as their UTF-8 bytes). */
export function digestBytes(data: string | Uint8Array): Digest {
  return `sha256:${sha256Hex(data)}`;
}

// crypto.hash (Node 20.12+, 21.7+) hashes in one call, without a Hash object per digest: half
// the cost for the many small inputs a journal has (one digest per event).
const oneShot = (crypto as { hash?: (alg: string, data: string | Uint8Array, enc: "hex") => string }).hash;
const sha256Hex = oneShot
  ? (data: string | Uint8Array): string => oneShot("sha256", data, "hex")
  : (data: string | Uint8Array): string => crypto.createHash("sha256").update(data).digest("hex");

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
  return forms(value, "rendered").rendered;
}

/** An artifact's canonical JSON, its digest and its on-disk rendering, from one walk over it. */
export function canonicalArtifact(value: unknown): { canonical: string; digest: Digest; rendered: string } {
  const f = forms(value, "both");
  return { canonical: f.canonical, digest: digestBytes(f.canonical), rendered: f.rendered };
}

/** Thrown inside a walk when the value is not JSON; the caller then finds and names the first bad spot. */
const NOT_JSON = new Error("not JSON");
/** Thrown inside a walk on an own `toJSON` key: json-canonicalize handled those its own way. */
const LEGACY = new Error("toJSON key");
/** Thrown by the fast walk on a key JSON.stringify would not keep in place (an array index, `__proto__`). */
const SLOW = new Error("key out of reach of the fast path");

/**
 * The compact canonical form and, when asked, the rendering
 * `JSON.stringify(JSON.parse(canonical), null, 2)` would give, without a parse.
 *
 * Fast path: RFC 8785 writes strings and numbers as ECMAScript's JSON.stringify does and sorts
 * keys by UTF-16 code units, so JSON.stringify itself is canonical for a value whose every
 * object has its keys in sorted order. `sortedView` checks the value (JSON only) and returns it
 * as it is when that holds — as for anything parsed from a canonical file — else a copy whose
 * unsorted objects are rebuilt in sorted order; native JSON.stringify then writes both forms.
 * Keys whose place JSON.stringify would not keep (array indices come first in an object, and
 * `__proto__` cannot be set as a plain key) take the slower `Writer`, which builds the string
 * itself. No path strings are built on the way: a value that is not JSON is walked again by
 * the checker below, which names where.
 */
function forms(
  value: unknown,
  want: "canonical" | "rendered" | "both",
): { canonical: string; rendered: string } {
  const pretty = want !== "canonical";
  try {
    const view = sortedView(value);
    return {
      canonical: want === "rendered" ? "" : JSON.stringify(view),
      rendered: pretty ? `${JSON.stringify(view, null, 2)}\n` : "",
    };
  } catch (e) {
    if (e !== SLOW) return otherForms(e, value);
  }
  // Index-like keys: the rendering keeps what JSON.parse makes of the canonical form (index
  // keys first, as JavaScript orders them), so it is made that way, as it always was.
  const w = new Writer();
  try {
    w.value(value);
  } catch (e) {
    return otherForms(e, value);
  }
  return { canonical: w.out, rendered: pretty ? reindented(w.out) : "" };
}

/** The rendering of a canonical form through JSON.parse, as renderArtifact has always defined it. */
function reindented(canonical: string): string {
  return `${JSON.stringify(JSON.parse(canonical), null, 2)}\n`;
}

/** After a walk stopped: the legacy forms, or the precise error for a value that is not JSON. */
function otherForms(e: unknown, value: unknown): { canonical: string; rendered: string } {
  if (e === LEGACY) return legacyForms(value);
  if (e !== NOT_JSON) throw e;
  assertJsonValue(value, "");
  throw new TypeError("not JSON");
}

/** `value` when every object in it has sorted keys, else a copy where each unsorted object is rebuilt sorted. */
function sortedView(v: unknown): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (!Number.isFinite(v)) throw NOT_JSON;
      return v;
    case "object":
      if (v === null) return v;
      return Array.isArray(v) ? sortedArray(v) : sortedObject(v);
    default:
      throw NOT_JSON;
  }
}

function sortedArray(a: readonly unknown[]): readonly unknown[] {
  let copy: unknown[] | null = null;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const view = sortedView(x);
    if (copy === null && view !== x) copy = a.slice(0, i);
    if (copy !== null) copy.push(view);
  }
  return copy ?? a;
}

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

function sortedObject(o: object): object {
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) throw NOT_JSON;
  const record = o as Record<string, unknown>;
  const keys = Object.keys(o);
  const views: unknown[] = new Array(keys.length);
  let sorted = true;
  let changed = false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (k === "toJSON") throw LEGACY;
    if (i > 0 && !((keys[i - 1] as string) < k)) sorted = false;
    const x = record[k];
    if (x === undefined) throw NOT_JSON;
    views[i] = sortedView(x);
    if (views[i] !== x) changed = true;
  }
  return sorted && !changed ? o : sortedCopy(keys, views, sorted);
}

/**
 * Sorted orders of the unsorted key lists seen lately, by first key: artifacts built in code
 * repeat a few object shapes many times over (every packet has the same keys).
 */
const orders = new Map<string, { keys: readonly string[]; order: number[] }[]>();

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The sorted order of an unsorted key list; throws SLOW for keys a copy cannot keep in place. */
function sortedOrder(keys: string[]): number[] {
  const first = keys[0] as string;
  const known = orders.get(first);
  if (known) for (const k of known) if (sameKeys(k.keys, keys)) return k.order;
  // A copy cannot hold `__proto__` as a plain key, nor move an index key from the front.
  for (const k of keys) if (k === "__proto__" || ARRAY_INDEX.test(k)) throw SLOW;
  const order = keys.map((_, i) => i);
  order.sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : 1));
  if (orders.size > 1000) orders.clear();
  if (known === undefined) orders.set(first, [{ keys, order }]);
  else if (known.length < 8) known.push({ keys, order });
  return order;
}

/** A new object of `keys` (own order) and their `views`, its keys inserted in sorted order. */
function sortedCopy(keys: string[], views: unknown[], sorted: boolean): object {
  if (sorted && keys.includes("__proto__")) throw SLOW;
  const order = sorted ? null : sortedOrder(keys);
  const out: Record<string, unknown> = {};
  if (order === null) for (let i = 0; i < keys.length; i++) out[keys[i] as string] = views[i];
  else for (const i of order) out[keys[i] as string] = views[i];
  return out;
}

/**
 * What json-canonicalize (this module's canonicaliser until 0.2) wrote for a value holding an
 * object with its own `toJSON` key: that object as JSON.stringify writes it. Kept so that such
 * an artifact, however unlikely, keeps the digest it had.
 */
function legacyForms(value: unknown): { canonical: string; rendered: string } {
  assertJsonValue(value, "");
  const canonical = canonicalize(value);
  return { canonical, rendered: reindented(canonical) };
}

/** Builds the compact form itself: for the values whose keys JSON.stringify would not keep in place. */
class Writer {
  out = "";

  value(v: unknown): void {
    switch (typeof v) {
      case "string":
        this.out += JSON.stringify(v);
        return;
      case "boolean":
        this.out += v ? "true" : "false";
        return;
      case "number":
        if (!Number.isFinite(v)) throw NOT_JSON;
        this.out += JSON.stringify(v);
        return;
      case "object":
        if (v === null) this.out += "null";
        else if (Array.isArray(v)) this.array(v);
        else this.object(v);
        return;
      default:
        throw NOT_JSON;
    }
  }

  private array(a: readonly unknown[]): void {
    this.out += "[";
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.out += ",";
      this.value(a[i]);
    }
    this.out += "]";
  }

  private object(o: object): void {
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw NOT_JSON;
    const keys = Object.keys(o).sort();
    const record = o as Record<string, unknown>;
    this.out += "{";
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      if (k === "toJSON") throw LEGACY;
      const v = record[k];
      if (v === undefined) throw NOT_JSON;
      this.out += `${i > 0 ? "," : ""}${JSON.stringify(k)}:`;
      this.value(v);
    }
    this.out += "}";
  }
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
