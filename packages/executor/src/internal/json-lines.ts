import type { TokenUsage } from "@dwm/schemas";

/** What DWM reads from an agent CLI's JSON Lines output. */
export interface TranscriptInfo {
  /** The lines that are JSON objects, in order (the transcript). */
  jsonLines: string[];
  /** Lines that are neither empty nor JSON objects. */
  otherLines: number;
  tokens: TokenUsage | null;
  /** The backend's documented authentication failure, with its message. */
  authError: string | null;
  /** The backend's documented rate-limit failure, with its message. */
  rateLimit: string | null;
  /** claude: the final `result` line says is_error. */
  resultError: string | null;
  /** The delay the endpoint advertised with its last 429, as the CLI reported it (ms), or null. */
  retryAfterMs: number | null;
}

/** Reads a tool's stdout as its transcript. */
export type TranscriptReader = (stdout: string) => TranscriptInfo;

/** The lines of `text` that are JSON objects (parsed and as written), and how many other non-empty lines. */
export function splitJsonLines(text: string): {
  objects: Record<string, unknown>[];
  jsonLines: string[];
  other: number;
} {
  const objects: Record<string, unknown>[] = [];
  const jsonLines: string[] = [];
  let other = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    try {
      const v: unknown = JSON.parse(line);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        objects.push(v as Record<string, unknown>);
        jsonLines.push(line);
        continue;
      }
    } catch {
      // not JSON: counted below
    }
    other++;
  }
  return { objects, jsonLines, other };
}

/** A non-negative integer, or undefined. */
export const int = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;

/** A string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `o[key]` when `o` is an object, else undefined. */
export function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined;
}

/** JSON Lines of any other tool (command backend with `transcript: "stdout"`). */
export function parseGeneric(stdout: string): TranscriptInfo {
  const { jsonLines, other } = splitJsonLines(stdout);
  return {
    jsonLines,
    otherLines: other,
    tokens: null,
    authError: null,
    rateLimit: null,
    resultError: null,
    retryAfterMs: null,
  };
}
