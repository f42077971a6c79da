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

function splitJsonLines(text: string): {
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

const int = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined;
}

// Codex reports HTTP failures of its model endpoint as "unexpected status 401 Unauthorized ..."
// in `error` events and in `turn.failed`'s error.message (checked against codex 0.169).
const CODEX_AUTH = /\b(unexpected )?status 401\b|\b401 Unauthorized\b|\b403 Forbidden\b/;
const CODEX_RATE = /\bstatus 429\b|\b429 Too Many Requests\b|usage limit/i;

/** Parse `codex exec --json` output: thread/turn/item events, usage on turn.completed. */
export function parseCodex(stdout: string): TranscriptInfo {
  const { objects, jsonLines, other } = splitJsonLines(stdout);
  const tokens: Required<
    Pick<TokenUsage, "input_tokens" | "cached_input_tokens" | "output_tokens" | "reasoning_output_tokens">
  > = {
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    reasoning_output_tokens: 0,
  };
  let sawUsage = false;
  let authError: string | null = null;
  let rateLimit: string | null = null;
  for (const o of objects) {
    const type = o.type;
    if (type === "turn.completed") {
      const u = field(o, "usage");
      if (u !== undefined) {
        sawUsage = true;
        tokens.input_tokens += int(field(u, "input_tokens")) ?? 0;
        tokens.cached_input_tokens += int(field(u, "cached_input_tokens")) ?? 0;
        tokens.output_tokens += int(field(u, "output_tokens")) ?? 0;
        tokens.reasoning_output_tokens += int(field(u, "reasoning_output_tokens")) ?? 0;
      }
    }
    const message =
      type === "error" ? str(o.message) : type === "turn.failed" ? str(field(o.error, "message")) : undefined;
    if (message !== undefined) {
      if (authError === null && CODEX_AUTH.test(message)) authError = message;
      if (rateLimit === null && CODEX_RATE.test(message)) rateLimit = message;
    }
  }
  return {
    jsonLines,
    otherLines: other,
    tokens: sawUsage ? { ...tokens, total_tokens: tokens.input_tokens + tokens.output_tokens } : null,
    authError,
    rateLimit,
    resultError: null,
    // Codex 0.169 reports neither the status body nor the retry-after of a 429 in its events.
    retryAfterMs: null,
  };
}

// Claude Code ends with a `result` line; with is_error it carries the endpoint's HTTP status in
// `api_error_status` (2.1.197: 401 → "Invalid API key · ...", 429 → "API Error: Request rejected (429) · ...").
// The texts are the fallback for versions without the field.
const CLAUDE_AUTH =
  /^Invalid API key\b|API Error: 40[13]\b|"authentication_error"|"permission_error"|OAuth token has expired/;
const CLAUDE_RATE = /API Error: 429\b|API Error: Request rejected \(429\)|"rate_limit_error"/;

/** Parse `claude -p --output-format stream-json --verbose` output: system/assistant/user lines, a final result. */
export function parseClaude(stdout: string): TranscriptInfo {
  const { objects, jsonLines, other } = splitJsonLines(stdout);
  let tokens: TokenUsage | null = null;
  let authError: string | null = null;
  let rateLimit: string | null = null;
  let resultError: string | null = null;
  let retryAfterMs: number | null = null;
  for (const o of objects) {
    // `system`/`api_retry`: the CLI waits retry_delay_ms before its own retry (a 429's retry-after when given).
    if (o.type === "system" && o.subtype === "api_retry" && o.error_status === 429) {
      const d = o.retry_delay_ms;
      if (typeof d === "number" && Number.isFinite(d) && d >= 0) retryAfterMs = Math.round(d);
    }
    if (o.type !== "result") continue;
    const u = field(o, "usage");
    if (u !== undefined) {
      const input = int(field(u, "input_tokens")) ?? 0;
      const output = int(field(u, "output_tokens")) ?? 0;
      const cached = int(field(u, "cache_read_input_tokens")) ?? 0;
      tokens = {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        total_tokens: input + output,
      };
      const cost = field(o, "total_cost_usd");
      if (typeof cost === "number" && Number.isFinite(cost) && cost >= 0) tokens.cost_usd = cost;
    }
    if (o.is_error === true) {
      const text = str(o.result) ?? str(o.subtype) ?? "error";
      resultError = text;
      const status = int(o.api_error_status);
      if (status === 401 || status === 403 || (status === undefined && CLAUDE_AUTH.test(text)))
        authError = text;
      else if (status === 429 || (status === undefined && CLAUDE_RATE.test(text))) rateLimit = text;
    }
  }
  return {
    jsonLines,
    otherLines: other,
    tokens,
    authError,
    rateLimit,
    resultError,
    retryAfterMs: rateLimit === null ? null : retryAfterMs,
  };
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

/** Sum token counts over invocations; null when none reported any. */
export function sumTokens(list: readonly (TokenUsage | null)[]): TokenUsage | null {
  const present = list.filter((t): t is TokenUsage => t !== null);
  if (present.length === 0) return null;
  const out: TokenUsage = {};
  for (const t of present) {
    for (const [k, v] of Object.entries(t) as [keyof TokenUsage, number | undefined][]) {
      if (v === undefined) continue;
      out[k] = (out[k] ?? 0) + v;
    }
  }
  if (out.cost_usd !== undefined) out.cost_usd = Math.round(out.cost_usd * 1e6) / 1e6;
  return out;
}
