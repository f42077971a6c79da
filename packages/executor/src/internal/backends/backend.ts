import type { BackendName, PacketWorker, WorkerBinding } from "@dwm/schemas";
import type { TranscriptReader } from "../json-lines.js";

/**
 * Paths of one invocation as the worker sees them (inside its sandbox); never recorded as such
 * (argv shows them as placeholders). None of them lies in a run store.
 */
export interface InvocationPaths {
  worktree: string;
  /** In the hand-over folder. */
  promptFile: string;
  /** command backend: `{output_dir}`, in the hand-over folder; DWM copies it into the evidence. */
  outputDir: string;
  /** codex: where `--output-last-message` writes, in the hand-over folder. */
  lastMessageFile: string;
  /** The hand-over folder. */
  ioDir: string;
}

/** What the invocation runs inside, besides its paths. */
export interface PlanContext {
  /** Inside DWM's OS sandbox: an agent CLI's own sandbox stays off (they would fight). */
  sandboxed: boolean;
}

export interface PlannedInvocation {
  backend: BackendName;
  argv: string[];
  stdin: "prompt" | "none";
  /** How stdout is read: the agent CLI's own JSON Lines reader, or null when stdout is no transcript. */
  readTranscript: TranscriptReader | null;
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
  plan(
    binding: WorkerBinding,
    permissions: Permissions,
    paths: InvocationPaths,
    context: PlanContext,
  ): PlannedInvocation;
  /** Environment the binding's gateway options (`base_url`, `api_key_env`) call for. */
  gatewayEnv(binding: WorkerBinding, source: Readonly<Record<string, string | undefined>>): GatewayEnv;
}

/** The gateway environment of a backend without gateway options. */
export function noGateway(): GatewayEnv {
  return { names: [], literal: {} };
}
