import { bubblewrapSandbox, coreErrors, noSandbox, type Sandbox } from "@dwm/core";
import type { Packet, WorkerBinding } from "@dwm/schemas";
import type { CommandContext, OptionSpec, ParsedArgs } from "./command.js";

/** `--no-sandbox`, for the commands that start workers. */
export const sandboxOption: Record<string, OptionSpec> = {
  "no-sandbox": {
    type: "boolean",
    description:
      "Run workers without the OS sandbox: as you, with your files, keys and git refs. Recorded in every attempt as lower assurance.",
  },
};

/** The bindings an attempt's invocations are looked up in: by worker id, else `*`; the reviewer by its key. */
export interface BindingsInUse {
  bindings: Readonly<Record<string, WorkerBinding | undefined>>;
  reviewer?: string | undefined;
}

/**
 * Whether attempts of these packets start any process (plan content, untrusted): a packet's own
 * command (run whatever the bindings say), a worker bound to a backend other than dry-run, or a
 * reviewer so bound. DWM's checks (validation and verification commands) run only after such
 * work: an attempt whose every worker is a dry run starts nothing, checks included.
 */
export function startsProcesses(inUse: BindingsInUse, packets: Iterable<Packet>): boolean {
  const live = (b: WorkerBinding | undefined) => b !== undefined && b.backend !== "dry-run";
  if (inUse.reviewer !== undefined && live(inUse.bindings[inUse.reviewer])) return true;
  for (const p of packets) {
    if (p.command !== undefined) return true;
    if (p.workers.some((w) => live(inUse.bindings[w.id] ?? inUse.bindings["*"]))) return true;
  }
  return false;
}

/**
 * The sandbox workers of this command run in: bubblewrap when it works here, none with
 * `--no-sandbox` (or, where bubblewrap does not work, when `startsAny` is false: nothing the
 * command does starts a process, see startsProcesses). Where bubblewrap does not work and
 * `--no-sandbox` was not given, refuses (ERR_SANDBOX_UNAVAILABLE): plan commands and workers
 * never run unsandboxed silently.
 */
export async function workerSandbox(
  args: ParsedArgs,
  ctx: CommandContext,
  startsAny: boolean,
): Promise<Sandbox> {
  if (args.values["no-sandbox"] === true) return noSandbox;
  const sandbox = bubblewrapSandbox({ path: ctx.env.PATH });
  const probe = await sandbox.probe();
  if (probe.ok) return sandbox;
  // Nothing to isolate: its attempts record `none` (status and verify count them as lower assurance).
  if (!startsAny) return noSandbox;
  throw coreErrors.create(
    "ERR_SANDBOX_UNAVAILABLE",
    `no worker sandbox here: ${probe.reason ?? "bubblewrap failed"}`,
    {
      details: { sandbox: probe.name, version: probe.version, reason: probe.reason },
    },
  );
}
