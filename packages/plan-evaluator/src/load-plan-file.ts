import { type BoundedRead, type Digest, digest, isDwmError, parseJsonText, readFileBounded } from "@dwm/core";
import { planEvaluatorErrors } from "./errors.js";
import { PLAN_LIMITS } from "./limits.js";

export interface LoadedPlan {
  /** The parsed plan (any JSON value: evaluatePlan decides whether it is a plan). */
  plan: unknown;
  /** digest(plan) as loaded: sha256 of its canonical JSON (made when first read). */
  readonly digest: Digest;
}

export interface LoadPlanOptions {
  maxBytes?: number;
  maxDepth?: number;
  /** How messages name the file (default: the path); e.g. the path as the user typed it. */
  source?: string;
}

/**
 * Read a plan file with guarded parsing, for the CLI and the compiler: size limit
 * checked before reading, BOM, UTF-8, JSON syntax (line and column), nesting depth.
 * Throws only DwmErrors: ERR_PLAN_UNREADABLE, ERR_PLAN_TOO_LARGE, ERR_PLAN_BOM,
 * ERR_PLAN_NOT_JSON, ERR_PLAN_TOO_DEEP.
 */
export function loadPlanFile(file: string, options: LoadPlanOptions = {}): LoadedPlan {
  const maxBytes = options.maxBytes ?? PLAN_LIMITS.maxBytes;
  const name = options.source ?? file;
  const read = readFileBounded(file, maxBytes);
  if (!read.ok) throw planReadError(read, name, maxBytes);
  return parsePlanBytes(read.bytes, name, options.maxDepth ?? PLAN_LIMITS.maxDepth);
}

/** The coded error for a plan file that could not be read within the size limit. */
function planReadError(read: Exclude<BoundedRead, { ok: true }>, name: string, maxBytes: number): Error {
  if (read.reason === "too-large") {
    if (read.size === null)
      return planEvaluatorErrors.create("ERR_PLAN_TOO_LARGE", `plan ${name} is over ${maxBytes} bytes`, {
        details: { file: name, maxBytes },
      });
    return planEvaluatorErrors.create(
      "ERR_PLAN_TOO_LARGE",
      `plan ${name} is ${read.size} bytes; the limit is ${maxBytes}`,
      { details: { file: name, size: read.size, maxBytes } },
    );
  }
  if (read.reason === "not-a-file")
    return planEvaluatorErrors.create("ERR_PLAN_UNREADABLE", `plan ${name} is not a regular file`, {
      details: { file: name },
    });
  return planEvaluatorErrors.create(
    "ERR_PLAN_UNREADABLE",
    `cannot read plan ${name}: ${read.error.code ?? read.error.message}`,
    { details: { file: name }, cause: read.error },
  );
}

/** Parse plan bytes with the same checks as loadPlanFile (no size check). */
export function parsePlanBytes(
  bytes: Uint8Array,
  source: string,
  maxDepth: number = PLAN_LIMITS.maxDepth,
): LoadedPlan {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    throw planEvaluatorErrors.create("ERR_PLAN_BOM", `plan ${source} starts with a UTF-8 byte order mark`, {
      details: { source },
    });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw planEvaluatorErrors.create("ERR_PLAN_NOT_JSON", `plan ${source} is not valid UTF-8`, {
      details: { source },
      cause: e,
    });
  }
  let plan: unknown;
  try {
    plan = parseJsonText(text, source, { maxDepth });
  } catch (e) {
    if (!isDwmError(e)) throw e;
    const depth = (e.details as { depth?: unknown } | undefined)?.depth;
    if (typeof depth === "number")
      throw planEvaluatorErrors.create(
        "ERR_PLAN_TOO_DEEP",
        `plan ${source} nests ${depth} levels deep; the limit is ${maxDepth}`,
        { details: { source, depth, maxDepth }, cause: e },
      );
    throw planEvaluatorErrors.create("ERR_PLAN_NOT_JSON", `plan ${e.message}`, {
      details: e.details ?? { source },
      cause: e,
    });
  }
  // JSON text parses to a value canonical JSON can represent except for a number out of range
  // (1e999 parses to Infinity): checked now, by a walk; the digest itself is made when first read
  // (evaluatePlan and compilePlan make the plan's own), from the text, so it is the plan's as loaded.
  if (!allFinite(plan, 0)) {
    try {
      digest(plan);
    } catch (e) {
      throw planEvaluatorErrors.create(
        "ERR_PLAN_NOT_JSON",
        `plan ${source} holds a value canonical JSON cannot represent: ${(e as Error).message}`,
        { details: { source }, cause: e },
      );
    }
  }
  let d: Digest | undefined;
  return {
    plan,
    get digest(): Digest {
      d ??= digest(JSON.parse(text));
      return d;
    },
  };
}

/** No number in `v` is Infinity or NaN (the parse checked the depth, so the recursion is bounded). */
function allFinite(v: unknown, depth: number): boolean {
  if (typeof v === "number") return Number.isFinite(v);
  if (v === null || typeof v !== "object" || depth > 1000) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (!allFinite(x, depth + 1)) return false;
    return true;
  }
  for (const k in v) if (!allFinite((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}
