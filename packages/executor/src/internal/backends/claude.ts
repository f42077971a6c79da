import type { TokenUsage, WorkerBinding } from "@dwm/schemas";
import { field, int, splitJsonLines, str, type TranscriptInfo } from "../json-lines.js";
import type { Backend, GatewayEnv, InvocationPaths, Permissions, PlannedInvocation } from "./backend.js";

/** Claude Code permission mode for a worker: acceptEdits when it may write, else default (asks → denied in -p). */
export function claudePermissionMode(
  p: Permissions,
  binding: WorkerBinding,
): NonNullable<WorkerBinding["permission_mode"]> {
  return binding.permission_mode ?? (p.write ? "acceptEdits" : "default");
}

/** `claude -p` with stream-json output, the prompt on stdin, tools allowed and disallowed from the permissions. */
function planClaude(
  binding: WorkerBinding,
  permissions: Permissions,
  _paths: InvocationPaths,
): PlannedInvocation {
  const mode = claudePermissionMode(permissions, binding);
  const argv = ["claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", mode];
  if (binding.model !== undefined) argv.push("--model", binding.model);
  const allowed = [...(permissions.shell ? ["Bash"] : []), ...(binding.allowed_tools ?? [])];
  const disallowed = [
    ...(permissions.write ? [] : ["Edit", "Write", "NotebookEdit"]),
    ...(permissions.shell ? [] : ["Bash"]),
    ...(permissions.network ? [] : ["WebFetch", "WebSearch"]),
  ];
  if (allowed.length > 0) argv.push("--allowedTools", allowed.join(","));
  if (disallowed.length > 0) argv.push("--disallowedTools", disallowed.join(","));
  argv.push(...(binding.extra_args ?? []));
  return {
    backend: "claude",
    argv,
    stdin: "prompt",
    readTranscript: parseClaude,
    decisive: claudeDecisive,
    outputDir: false,
  };
}

/** ANTHROPIC_BASE_URL from `base_url`, ANTHROPIC_API_KEY from the value of the `api_key_env` variable. */
function claudeGatewayEnv(
  binding: WorkerBinding,
  source: Readonly<Record<string, string | undefined>>,
): GatewayEnv {
  const literal: Record<string, string> = {};
  if (binding.base_url !== undefined) literal.ANTHROPIC_BASE_URL = binding.base_url;
  if (binding.api_key_env !== undefined) {
    const key = source[binding.api_key_env];
    if (key !== undefined) literal.ANTHROPIC_API_KEY = key;
  }
  return { names: [], literal };
}

// Claude Code ends with a `result` line; with is_error it carries the endpoint's HTTP status in
// `api_error_status` (2.1.197: 401 → "Invalid API key · ...", 429 → "API Error: Request rejected (429) · ...").
// The texts are the fallback for versions without the field.
const CLAUDE_AUTH =
  /^Invalid API key\b|API Error: 40[13]\b|"authentication_error"|"permission_error"|OAuth token has expired/;
const CLAUDE_RATE = /API Error: 429\b|API Error: Request rejected \(429\)|"rate_limit_error"/;

/** `system`/`api_retry` after a 429: the CLI waits retry_delay_ms (the 429's retry-after when given). */
function claudeRetryDelay(o: Record<string, unknown>): number | undefined {
  if (o.type !== "system" || o.subtype !== "api_retry" || o.error_status !== 429) return undefined;
  const d = o.retry_delay_ms;
  return typeof d === "number" && Number.isFinite(d) && d >= 0 ? Math.round(d) : undefined;
}

/**
 * `system`/`api_retry` after a 401 or 403: the endpoint refused the credentials. Claude Code
 * retries them like any failed request (for minutes by default) and its final `result` comes
 * only after the last retry, so this line is where the failure shows first.
 */
function claudeRetryAuth(o: Record<string, unknown>): string | null {
  if (o.type !== "system" || o.subtype !== "api_retry") return null;
  const status = int(o.error_status);
  if (status !== 401 && status !== 403) return null;
  const attempt = int(o.attempt);
  const max = int(o.max_retries);
  const which =
    attempt === undefined ? "" : ` (Claude Code retry ${attempt}${max === undefined ? "" : ` of ${max}`})`;
  const error = str(o.error);
  return `API Error: ${status} from the model endpoint${which}${error ? `: ${error}` : ""}`;
}

/** An auth failure one transcript line proves: a result refusing the credentials, or a retry of a 401/403. */
export function claudeDecisive(o: Record<string, unknown>): string | null {
  if (o.type === "result") {
    const failure = claudeResultFailure(o);
    return failure?.kind === "auth" ? failure.text : null;
  }
  return claudeRetryAuth(o);
}

/** The usage of a `result` line, or undefined when it has none. */
function claudeResultTokens(o: Record<string, unknown>): TokenUsage | undefined {
  const u = field(o, "usage");
  if (u === undefined) return undefined;
  const input = int(field(u, "input_tokens")) ?? 0;
  const output = int(field(u, "output_tokens")) ?? 0;
  const tokens: TokenUsage = {
    input_tokens: input,
    cached_input_tokens: int(field(u, "cache_read_input_tokens")) ?? 0,
    output_tokens: output,
    total_tokens: input + output,
  };
  const cost = field(o, "total_cost_usd");
  if (typeof cost === "number" && Number.isFinite(cost) && cost >= 0) tokens.cost_usd = cost;
  return tokens;
}

/** An is_error `result` line: its text, and whether the endpoint refused the credentials or rate-limited. */
function claudeResultFailure(
  o: Record<string, unknown>,
): { text: string; kind: "auth" | "rate" | "other" } | null {
  if (o.is_error !== true) return null;
  const text = str(o.result) ?? str(o.subtype) ?? "error";
  const status = int(o.api_error_status);
  if (status === 401 || status === 403 || (status === undefined && CLAUDE_AUTH.test(text)))
    return { text, kind: "auth" };
  if (status === 429 || (status === undefined && CLAUDE_RATE.test(text))) return { text, kind: "rate" };
  return { text, kind: "other" };
}

/** Parse `claude -p --output-format stream-json --verbose` output: system/assistant/user lines, a final result. */
export function parseClaude(stdout: string): TranscriptInfo {
  const { objects, jsonLines, other } = splitJsonLines(stdout);
  let tokens: TokenUsage | null = null;
  let authError: string | null = null;
  let rateLimit: string | null = null;
  let resultError: string | null = null;
  let retryAfterMs: number | null = null;
  for (const o of objects) {
    retryAfterMs = claudeRetryDelay(o) ?? retryAfterMs;
    // A retried 401/403 is the auth failure until a result line says it in its own words.
    authError = claudeRetryAuth(o) ?? authError;
    if (o.type !== "result") continue;
    tokens = claudeResultTokens(o) ?? tokens;
    const failure = claudeResultFailure(o);
    if (failure === null) {
      // A retry that got through in the end (a refreshed token) was no auth failure.
      authError = null;
      continue;
    }
    resultError = failure.text;
    if (failure.kind === "auth") authError = failure.text;
    else if (failure.kind === "rate") rateLimit = failure.text;
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

/** claude: Claude Code in print mode. */
export const claudeBackend: Backend = {
  bindingProblem: () => null,
  plan: planClaude,
  gatewayEnv: claudeGatewayEnv,
};
