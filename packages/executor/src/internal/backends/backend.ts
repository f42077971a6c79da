import type { BackendName, PacketWorker, WorkerBinding } from "@dwm/schemas";
import type { TranscriptReader } from "../json-lines.js";

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
  /** How stdout is read: the agent CLI's own JSON Lines reader, or null when stdout is no transcript. */
  readTranscript: TranscriptReader | null;
  /**
   * An auth failure that one transcript event proves (the endpoint refused the credentials), or
   * null; read while the process runs, so the attempt stops at once instead of at its timeout.
   */
  decisive?: ((event: Record<string, unknown>) => string | null) | undefined;
  /** The worker gets a folder of its own in the evidence (`{output_dir}`, DWM_OUTPUT_DIR, `out/`). */
  outputDir: boolean;
}

export type Permissions = Pick<PacketWorker["tool_permissions"], "write" | "shell" | "network">;

/** What a binding's gateway options add to the worker's environment: names passed through, literal values. */
export interface GatewayEnv {
  names: string[];
  literal: Record<string, string>;
}

/**
 * One backend, whole: what its binding must hold, the argv it is invoked with, what it adds to the
 * environment, and (through `readTranscript`) how its output says it failed for auth or rate limits.
 */
export interface Backend {
  /** Why `binding` cannot drive this backend, or null (checked before anything runs). */
  bindingProblem(binding: WorkerBinding): string | null;
  /** The argv and stdin of one invocation, as the tool documents non-interactive use. */
  plan(binding: WorkerBinding, permissions: Permissions, paths: InvocationPaths): PlannedInvocation;
  /** Environment the binding's gateway options (`base_url`, `api_key_env`) call for. */
  gatewayEnv(binding: WorkerBinding, source: Readonly<Record<string, string | undefined>>): GatewayEnv;
}

/** The gateway environment of a backend without gateway options. */
export function noGateway(): GatewayEnv {
  return { names: [], literal: {} };
}
