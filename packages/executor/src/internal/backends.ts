import type { BackendName, WorkerBinding } from "@dwm/schemas";
import { executorErrors } from "../errors.js";
import type {
  Backend,
  GatewayEnv,
  InvocationPaths,
  Permissions,
  PlanContext,
  PlannedInvocation,
} from "./backends/backend.js";
import { claudeBackend } from "./backends/claude.js";
import { codexBackend } from "./backends/codex.js";
import { commandBackend } from "./backends/command.js";
import { dryRunBackend, shellBackend } from "./backends/shell.js";

export type {
  Backend,
  GatewayEnv,
  InvocationPaths,
  Permissions,
  PlanContext,
  PlannedInvocation,
} from "./backends/backend.js";
export { claudePermissionMode } from "./backends/claude.js";
export { CODEX_GATEWAY_PROVIDER, codexGatewayConfig, codexSandbox } from "./backends/codex.js";

/** Every backend, each whole in its own file under `backends/`. */
const BACKENDS: Readonly<Record<BackendName, Backend>> = {
  "dry-run": dryRunBackend,
  shell: shellBackend,
  command: commandBackend,
  codex: codexBackend,
  claude: claudeBackend,
};

/**
 * What a binding's gateway options add to the worker's environment: codex reads the key from
 * `api_key_env` itself (passed through by name); claude gets ANTHROPIC_BASE_URL from `base_url`
 * and ANTHROPIC_API_KEY from the value of `api_key_env`.
 */
export function gatewayEnv(
  binding: WorkerBinding,
  source: Readonly<Record<string, string | undefined>>,
): GatewayEnv {
  return BACKENDS[binding.backend].gatewayEnv(binding, source);
}

/** Options that belong to other backends than the binding's, or null. */
function foreignOptionProblem(b: WorkerBinding): string | null {
  if (b.backend !== "shell" && (b.shell !== undefined || b.command !== undefined)) {
    return "`shell` and `command` belong to the shell backend";
  }
  const gateway = b.backend === "codex" || b.backend === "claude";
  if (!gateway && (b.base_url !== undefined || b.api_key_env !== undefined)) {
    return "`base_url` and `api_key_env` belong to the codex and claude backends";
  }
  return null;
}

/** Check that a binding has what its backend needs (before anything runs). */
export function checkBinding(workerId: string, b: WorkerBinding): void {
  const why = BACKENDS[b.backend].bindingProblem(b) ?? foreignOptionProblem(b);
  if (why === null) return;
  throw executorErrors.create(
    "ERR_EXEC_BACKEND_UNAVAILABLE",
    `binding of worker ${JSON.stringify(workerId)}: ${why}`,
    {
      details: { worker_id: workerId, backend: b.backend },
    },
  );
}

/** The argv and stdin of one worker invocation, as its backend documents non-interactive use. */
export function planInvocation(
  binding: WorkerBinding,
  permissions: Permissions,
  paths: InvocationPaths,
  context: PlanContext = { sandboxed: false },
): PlannedInvocation {
  return BACKENDS[binding.backend].plan(binding, permissions, paths, context);
}

/** argv as recorded: local paths replaced by their placeholders, so no absolute path enters the attempt. */
export function recordArgv(argv: readonly string[], paths: InvocationPaths): string[] {
  const subs: [string, string][] = (
    [
      [paths.promptFile, "{prompt_file}"],
      [paths.lastMessageFile, "{last_message_file}"],
      [paths.outputDir, "{output_dir}"],
      [paths.ioDir, "{io_dir}"],
      [paths.worktree, "{worktree}"],
    ] as [string, string][]
  ).sort((a, b) => b[0].length - a[0].length);
  return argv.map((a) => subs.reduce((s, [from, to]) => s.replaceAll(from, to), a));
}
