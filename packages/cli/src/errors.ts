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
  ERR_CLI_INTERNAL: {
    title: "DWM hit an unexpected internal error.",
    hint: "Run again with DWM_DEBUG=1 for the stack trace and report it.",
    exitCode: EXIT.failure,
  },
});
