import type { TokenUsage, WorkerBinding } from "@dwm/schemas";
import { field, int, splitJsonLines, str, type TranscriptInfo } from "../json-lines.js";
import type { Backend, InvocationPaths, Permissions, PlanContext, PlannedInvocation } from "./backend.js";

/**
 * Codex sandbox for a worker. Inside DWM's OS sandbox: `danger-full-access`, as Codex documents
 * for running inside an external sandbox (its own bubblewrap cannot nest in DWM's and then runs
 * no command); DWM's view keeps a read-only worker's checkout read-only and the network off.
 * Without DWM's sandbox: read-only unless it may write; full access only when the binding asks.
 */
export function codexSandbox(
  p: Permissions,
  binding: WorkerBinding,
  context: PlanContext = { sandboxed: false },
): NonNullable<WorkerBinding["sandbox"]> {
  if (context.sandboxed) return "danger-full-access";
  return binding.sandbox ?? (p.write ? "workspace-write" : "read-only");
}

/** The Codex model provider id DWM defines for a binding's `base_url`. */
export const CODEX_GATEWAY_PROVIDER = "dwm-gateway";

/**
 * Codex config overrides that send the model requests to `baseUrl` (Responses API), with the
 * bearer token read from the variable `apiKeyEnv` (none: no Authorization header).
 */
export function codexGatewayConfig(baseUrl: string, apiKeyEnv: string | undefined): string[] {
  const id = CODEX_GATEWAY_PROVIDER;
  const kv = [
    `model_provider=${JSON.stringify(id)}`,
    `model_providers.${id}.name=${JSON.stringify(id)}`,
    `model_providers.${id}.base_url=${JSON.stringify(baseUrl)}`,
    `model_providers.${id}.wire_api="responses"`,
    ...(apiKeyEnv === undefined ? [] : [`model_providers.${id}.env_key=${JSON.stringify(apiKeyEnv)}`]),
  ];
  return kv.flatMap((c) => ["--config", c]);
}

/** `codex exec --json`, the prompt on stdin, the sandbox from the worker's permissions. */
function planCodex(
  binding: WorkerBinding,
  permissions: Permissions,
  paths: InvocationPaths,
  context: PlanContext,
): PlannedInvocation {
  const sandbox = codexSandbox(permissions, binding, context);
  const argv = ["codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", sandbox];
  if (binding.model !== undefined) argv.push("--model", binding.model);
  if (permissions.network && sandbox === "workspace-write") {
    argv.push("--config", "sandbox_workspace_write.network_access=true");
  }
  if (binding.base_url !== undefined) argv.push(...codexGatewayConfig(binding.base_url, binding.api_key_env));
  for (const c of binding.config ?? []) argv.push("--config", c);
  argv.push("--output-last-message", paths.lastMessageFile, ...(binding.extra_args ?? []), "-");
  return { backend: "codex", argv, stdin: "prompt", readTranscript: parseCodex, outputDir: false };
}

// Codex reports HTTP failures of its model endpoint as "unexpected status 401 Unauthorized ..."
// in `error` events and in `turn.failed`'s error.message (checked against codex 0.169).
const CODEX_AUTH = /\b(unexpected )?status 401\b|\b401 Unauthorized\b|\b403 Forbidden\b/;
const CODEX_RATE = /\bstatus 429\b|\b429 Too Many Requests\b|usage limit/i;

type CodexTokens = Required<
  Pick<TokenUsage, "input_tokens" | "cached_input_tokens" | "output_tokens" | "reasoning_output_tokens">
>;

/** Usage summed over `turn.completed` events; null when none carried any. */
function codexUsage(objects: readonly Record<string, unknown>[]): TokenUsage | null {
  const tokens: CodexTokens = {
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    reasoning_output_tokens: 0,
  };
  let sawUsage = false;
  for (const o of objects) {
    const u = o.type === "turn.completed" ? field(o, "usage") : undefined;
    if (u === undefined) continue;
    sawUsage = true;
    for (const k of Object.keys(tokens) as (keyof CodexTokens)[]) tokens[k] += int(field(u, k)) ?? 0;
  }
  return sawUsage ? { ...tokens, total_tokens: tokens.input_tokens + tokens.output_tokens } : null;
}

/** The message of an `error` or `turn.failed` event: the only places codex reports its endpoint's failures. */
function codexErrorMessage(o: Record<string, unknown>): string | undefined {
  if (o.type === "error") return str(o.message);
  if (o.type === "turn.failed") return str(field(o.error, "message"));
  return undefined;
}

/** Parse `codex exec --json` output: thread/turn/item events, usage on turn.completed. */
export function parseCodex(stdout: string): TranscriptInfo {
  const { objects, jsonLines, other } = splitJsonLines(stdout);
  const messages = objects.map(codexErrorMessage).filter((m): m is string => m !== undefined);
  return {
    jsonLines,
    otherLines: other,
    tokens: codexUsage(objects),
    authError: messages.find((m) => CODEX_AUTH.test(m)) ?? null,
    rateLimit: messages.find((m) => CODEX_RATE.test(m)) ?? null,
    resultError: null,
    // Codex 0.169 reports neither the status body nor the retry-after of a 429 in its events.
    retryAfterMs: null,
  };
}

/** codex: `codex exec`; its gateway key is read by codex itself from `api_key_env`, passed through by name. */
export const codexBackend: Backend = {
  bindingProblem: () => null,
  plan: planCodex,
  gatewayEnv: (b) => ({ names: b.api_key_env === undefined ? [] : [b.api_key_env], literal: {} }),
};
