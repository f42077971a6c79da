import { defineErrors, EXIT } from "@dwm/core";

/** Errors of the `dwm` command line itself. */
export const cliErrors = defineErrors({
  ERR_CLI_UNKNOWN_COMMAND: {
    title: "No such command.",
    hint: "Run `dwm commands` for the list.",
    exitCode: EXIT.usage,
  },
  ERR_CLI_USAGE: {
    title: "The command's arguments or options are wrong.",
    hint: "Run `dwm <command> --help` for its usage.",
    exitCode: EXIT.usage,
  },
  ERR_CLI_NO_RUNS: {
    title: "The run store holds no run.",
    hint: "Compile a plan first (`dwm compile <plan>`), or point at another store with --store DIR.",
  },
  ERR_CLI_RUN_NOT_FOUND: {
    title: "No run of that id or path.",
    hint: "Give a run id from the store (see details.available) or the path of a run directory.",
  },
  ERR_CLI_STORE_DAMAGED: {
    title: "The run store failed its check; a command that changes a run refuses to build on it.",
    hint: "Run `dwm verify <run>` for the full report and restore the named files from a backup.",
    exitCode: EXIT.integrity,
  },
  ERR_CLI_RUN_DAMAGED: {
    title: "A run directory of the store has lost its run.json, but holds a run's files.",
    hint: "Restore run.json from a backup; a run without its manifest cannot be checked or continued.",
    exitCode: EXIT.integrity,
  },
  ERR_CLI_PACKET_NOT_FOUND: {
    title: "The run has no packet of that id.",
    hint: "Run `dwm status <run>` for its packets (details.available lists some).",
  },
  ERR_CLI_INTERNAL: {
    title: "DWM hit an unexpected internal error.",
    hint: "Run again with DWM_DEBUG=1 for the stack trace and report it.",
    exitCode: EXIT.failure,
  },
});

export { mcpErrors } from "./internal/mcp/errors.js";
