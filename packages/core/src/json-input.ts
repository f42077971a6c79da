import { readFileBounded } from "./bounded-read.js";
import { coreErrors } from "./errors.js";

export interface ReadJsonOptions {
  /** Refuse files larger than this many bytes before reading them. */
  maxBytes?: number;
  /** Refuse values nested deeper than this (objects and arrays). */
  maxDepth?: number;
}

/** Default limits for user-supplied JSON (plans, bindings): generous, but bounded. */
export const JSON_INPUT_LIMITS = { maxBytes: 8 * 1024 * 1024, maxDepth: 64 } as const;

/**
 * Parse user-supplied JSON text with clear, coded errors: BOM, syntax errors with
 * line and column, nesting limit. Never throws anything but a DwmError.
 */
export function parseJsonText(text: string, source: string, options: ReadJsonOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? JSON_INPUT_LIMITS.maxDepth;
  if (text.charCodeAt(0) === 0xfeff) {
    throw coreErrors.create("ERR_JSON_INVALID", `${source} starts with a byte order mark (BOM)`, {
      hint: "Save the file as UTF-8 without a BOM.",
      details: { source },
    });
  }
  // Check nesting before parsing so a hostile file cannot exhaust the stack of later recursive code.
  const depth = jsonNestingDepth(text);
  if (depth > maxDepth) {
    throw coreErrors.create(
      "ERR_JSON_INVALID",
      `${source} nests ${depth} levels deep; the limit is ${maxDepth}`,
      {
        hint: "Flatten the structure.",
        details: { source, depth, maxDepth },
      },
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const where = m ? lineCol(text, Number(m[1])) : undefined;
    throw coreErrors.create(
      "ERR_JSON_INVALID",
      `${source} is not valid JSON${where ? ` (line ${where.line}, column ${where.column})` : ""}: ${msg}`,
      { details: { source, ...(where ?? {}) } },
    );
  }
}

/** Read and parse a user-supplied JSON file, refusing oversize files before reading them. */
export function readJsonFile(file: string, options: ReadJsonOptions = {}): unknown {
  const maxBytes = options.maxBytes ?? JSON_INPUT_LIMITS.maxBytes;
  const read = readFileBounded(file, maxBytes);
  if (read.ok) return parseJsonText(read.bytes.toString("utf8"), file, options);
  if (read.reason === "too-large") {
    const what =
      read.size === null ? `over ${maxBytes} bytes` : `${read.size} bytes; the limit is ${maxBytes}`;
    throw coreErrors.create("ERR_INPUT_TOO_LARGE", `${file} is ${what}`, {
      details: { file, ...(read.size === null ? {} : { size: read.size }), maxBytes },
    });
  }
  const why = read.reason === "unreadable" ? read.error.code : "not a regular file";
  throw coreErrors.create("ERR_ARTIFACT_MISSING", `cannot read ${file}: ${why}`, {
    hint: "Check the path.",
    details: { file },
    ...(read.reason === "unreadable" ? { cause: read.error } : {}),
  });
}

function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function lineCol(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  return { line, column: pos - before.lastIndexOf("\n") };
}
