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
  ERR_LAND_NOT_COMPLETE: {
    title: "dwm land: the run is not complete.",
    hint: "Run it to the end first; `dwm status <run>` says what it waits for.",
  },
  ERR_LAND_NOT_VERIFIED: {
    title:
      "dwm land: the run store has a problem the check before a change lets pass (a crash leftover, an unattested packet), or its integration branch is not the commit the journal recorded.",
    hint: "Run `dwm verify <run>` for the problems; a run whose store or integration branch changed is never landed.",
    exitCode: EXIT.integrity,
  },
  ERR_LAND_NO_BRANCH: {
    title: "dwm land: the run recorded no branch it started from (a detached HEAD, or an earlier version).",
    hint: "Name the branch: `dwm land <run> --into BRANCH`.",
  },
  ERR_LAND_DIRTY: {
    title: "dwm land: the branch is checked out here with uncommitted changes to tracked files.",
    hint: "Commit or stash them (`git stash`), then run `dwm land` again.",
  },
  ERR_LAND_CHECKED_OUT_ELSEWHERE: {
    title: "dwm land: the branch is checked out in another worktree of the repository.",
    hint: "Run `dwm land` in that worktree, or pass --into another branch.",
  },
  ERR_LAND_NOT_FAST_FORWARD: {
    title: "dwm land --ff-only: the branch moved on since the run started.",
    hint: "Record a merge commit instead: `dwm land <run> --merge`.",
  },
  ERR_LAND_CONFLICT: {
    title: "dwm land: the run's result conflicts with the branch.",
    hint: "Merge the run's integration branch by hand (`git merge dwm/<run>/integration`), resolve the conflicts and commit.",
  },
  ERR_LAND_CONTROL_FILES: {
    title:
      "dwm land: the run's result changes DWM's control files (dwm.operators.json, dwm.policy.json, dwm.workers.json, .dwm/, workflow.plan.json): the keys trusted, what a policy approves, what workers run.",
    hint: "Read the change (`git diff <base> dwm/<run>/integration -- <file>`); land it only if you mean it: `dwm land <run> --allow-control-files`.",
  },
  ERR_LAND_GIT_FAILED: {
    title: "dwm land: a git command failed.",
    hint: "Read git's message in the details (a merge commit needs your git identity: `git config user.name` and `user.email`).",
  },
  ERR_CLI_INTERNAL: {
    title: "DWM hit an unexpected internal error.",
    hint: "Run again with DWM_DEBUG=1 for the stack trace and report it.",
    exitCode: EXIT.failure,
  },
});

export { mcpErrors } from "./internal/mcp/errors.js";
