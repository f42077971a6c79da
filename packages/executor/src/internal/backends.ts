import type { BackendName, PacketWorker, WorkerBinding } from "@dwm/schemas";
import { executorErrors } from "../errors.js";

/** Local paths of one invocation; never recorded as such (argv shows them as placeholders). */
export interface InvocationPaths {
  worktree: string;
  promptFile: string;
  /** command backend: `{output_dir}`; a folder of the attempt directory. */
  outputDir: string;
  /** codex: where `--output-last-message` writes. */
  lastMessageFile: string;
  attemptDir: string;
}

export interface PlannedInvocation {
  backend: BackendName;
  argv: string[];
  stdin: "prompt" | "none";
  /** How stdout is read: an agent CLI's JSON Lines, or nothing. */
  transcript: "codex" | "claude" | "generic" | "none";
  /** Backend-documented variable names to pass through, besides the base allow-list. */
  usesOutputDir: boolean;
}

export type Permissions = Pick<PacketWorker["tool_permissions"], "write" | "shell" | "network">;

/** Codex sandbox for a worker: read-only unless it may write; full access only when the binding asks. */
export function codexSandbox(p: Permissions, binding: WorkerBinding): NonNullable<WorkerBinding["sandbox"]> {
  return binding.sandbox ?? (p.write ? "workspace-write" : "read-only");
}

/** Claude Code permission mode for a worker: acceptEdits when it may write, else default (asks → denied in -p). */
export function claudePermissionMode(
  p: Permissions,
  binding: WorkerBinding,
): NonNullable<WorkerBinding["permission_mode"]> {
  return binding.permission_mode ?? (p.write ? "acceptEdits" : "default");
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

/**
 * What a binding's gateway options add to the worker's environment: codex reads the key from
 * `api_key_env` itself (passed through by name); claude gets ANTHROPIC_BASE_URL from `base_url`
 * and ANTHROPIC_API_KEY from the value of `api_key_env`.
 */
export function gatewayEnv(
  binding: WorkerBinding,
  source: Readonly<Record<string, string | undefined>>,
): { names: string[]; literal: Record<string, string> } {
  if (binding.backend === "codex") {
    return { names: binding.api_key_env === undefined ? [] : [binding.api_key_env], literal: {} };
  }
  if (binding.backend !== "claude") return { names: [], literal: {} };
  const literal: Record<string, string> = {};
  if (binding.base_url !== undefined) literal.ANTHROPIC_BASE_URL = binding.base_url;
  if (binding.api_key_env !== undefined) {
    const key = source[binding.api_key_env];
    if (key !== undefined) literal.ANTHROPIC_API_KEY = key;
  }
  return { names: [], literal };
}

/** Check that a binding has what its backend needs (before anything runs). */
export function checkBinding(workerId: string, b: WorkerBinding): void {
  const bad = (why: string) =>
    executorErrors.create(
      "ERR_EXEC_BACKEND_UNAVAILABLE",
      `binding of worker ${JSON.stringify(workerId)}: ${why}`,
      {
        details: { worker_id: workerId, backend: b.backend },
      },
    );
  if (b.backend === "shell") {
    if (b.shell === true) {
      if (b.command === undefined) throw bad("shell: true needs `command`");
      if (b.argv !== undefined) throw bad("give either `argv` or `shell: true` with `command`, not both");
    } else {
      if (b.command !== undefined) throw bad("`command` runs through a shell only with `shell: true`");
      if (b.argv === undefined) throw bad("the shell backend needs `argv`");
    }
  }
  if (b.backend === "command" && b.argv === undefined)
    throw bad("the command backend needs an `argv` template");
  if (b.backend !== "shell" && (b.shell !== undefined || b.command !== undefined)) {
    throw bad("`shell` and `command` belong to the shell backend");
  }
  if (
    b.backend !== "codex" &&
    b.backend !== "claude" &&
    (b.base_url !== undefined || b.api_key_env !== undefined)
  ) {
    throw bad("`base_url` and `api_key_env` belong to the codex and claude backends");
  }
}

function fill(template: string, paths: InvocationPaths): string {
  return template
    .replaceAll("{prompt_file}", paths.promptFile)
    .replaceAll("{worktree}", paths.worktree)
    .replaceAll("{output_dir}", paths.outputDir);
}

/** The argv and stdin of one worker invocation, as its backend documents non-interactive use. */
export function planInvocation(
  binding: WorkerBinding,
  permissions: Permissions,
  paths: InvocationPaths,
): PlannedInvocation {
  switch (binding.backend) {
    case "dry-run":
      return { backend: "dry-run", argv: [], stdin: "none", transcript: "none", usesOutputDir: false };
    case "shell":
      return {
        backend: "shell",
        argv: binding.shell === true ? ["sh", "-c", binding.command ?? ""] : [...(binding.argv ?? [])],
        stdin: "none",
        transcript: "none",
        usesOutputDir: false,
      };
    case "command": {
      const argv = (binding.argv ?? []).map((a) => fill(a, paths));
      return {
        backend: "command",
        argv,
        stdin: binding.stdin ?? "none",
        transcript: binding.transcript === "stdout" ? "generic" : "none",
        usesOutputDir: (binding.argv ?? []).some((a) => a.includes("{output_dir}")),
      };
    }
    case "codex": {
      const sandbox = codexSandbox(permissions, binding);
      const argv = ["codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", sandbox];
      if (binding.model !== undefined) argv.push("--model", binding.model);
      if (permissions.network && sandbox === "workspace-write") {
        argv.push("--config", "sandbox_workspace_write.network_access=true");
      }
      if (binding.base_url !== undefined)
        argv.push(...codexGatewayConfig(binding.base_url, binding.api_key_env));
      for (const c of binding.config ?? []) argv.push("--config", c);
      argv.push("--output-last-message", paths.lastMessageFile, ...(binding.extra_args ?? []), "-");
      return { backend: "codex", argv, stdin: "prompt", transcript: "codex", usesOutputDir: false };
    }
    case "claude": {
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
      return { backend: "claude", argv, stdin: "prompt", transcript: "claude", usesOutputDir: false };
    }
  }
}

/** argv as recorded: local paths replaced by their placeholders, so no absolute path enters the attempt. */
export function recordArgv(argv: readonly string[], paths: InvocationPaths): string[] {
  const subs: [string, string][] = (
    [
      [paths.promptFile, "{prompt_file}"],
      [paths.lastMessageFile, "{last_message_file}"],
      [paths.outputDir, "{output_dir}"],
      [paths.attemptDir, "{attempt_dir}"],
      [paths.worktree, "{worktree}"],
    ] as [string, string][]
  ).sort((a, b) => b[0].length - a[0].length);
  return argv.map((a) => subs.reduce((s, [from, to]) => s.replaceAll(from, to), a));
}
