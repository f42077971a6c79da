import { bubblewrapSandbox, coreErrors, noSandbox, type Sandbox } from "@dwm/core";
import type { CommandContext, OptionSpec, ParsedArgs } from "./command.js";

/** `--no-sandbox`, for the commands that start workers. */
export const sandboxOption: Record<string, OptionSpec> = {
  "no-sandbox": {
    type: "boolean",
    description:
      "Run workers without the OS sandbox: as you, with your files, keys and git refs. Recorded in every attempt as lower assurance.",
  },
};

/**
 * The sandbox workers of this command run in: bubblewrap when it works here, none with
 * `--no-sandbox` (or, where bubblewrap does not work, when `startsWorkers` is false: every
 * worker is a dry run). Where bubblewrap does not work and `--no-sandbox` was not given, refuses
 * (ERR_SANDBOX_UNAVAILABLE): workers never run unsandboxed silently.
 */
export async function workerSandbox(
  args: ParsedArgs,
  ctx: CommandContext,
  startsWorkers = true,
): Promise<Sandbox> {
  if (args.values["no-sandbox"] === true) return noSandbox;
  const sandbox = bubblewrapSandbox({ path: ctx.env.PATH });
  const probe = await sandbox.probe();
  if (probe.ok) return sandbox;
  // A dry run starts no worker: no reason to refuse (a command phase still runs; its attempt records `none`).
  if (!startsWorkers) return noSandbox;
  throw coreErrors.create(
    "ERR_SANDBOX_UNAVAILABLE",
    `no worker sandbox here: ${probe.reason ?? "bubblewrap failed"}`,
    {
      details: { sandbox: probe.name, version: probe.version, reason: probe.reason },
    },
  );
}
