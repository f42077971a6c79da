import { type DwmError, fsErrorOf, isDwmError } from "@dwm/core";
import { cliErrors } from "../errors.js";

/**
 * Any failure as the coded error a user is shown, one rule for the command line and the MCP
 * server: a DwmError as it is; a file-system failure a user can meet (disk full, wrong file
 * kind, permissions) with its ERR_FS_* code; anything else is a bug, ERR_CLI_INTERNAL.
 */
export function codedErrorOf(e: unknown): DwmError {
  if (isDwmError(e)) return e;
  return (
    fsErrorOf(e) ??
    cliErrors.create("ERR_CLI_INTERNAL", e instanceof Error ? e.message : String(e), { cause: e })
  );
}
