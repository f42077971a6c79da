import os from "node:os";

/** The file in each attempt folder (`<worktree root>/dwm-wt-*`) that says whose attempt it is. */
export const SPACE_OWNER_FILE = "dwm-owner.json";

/** Whose attempt folder this is: the run, and the process that made it on which host. */
export interface SpaceOwner {
  run_id: string;
  pid: number;
  host: string;
}

/** The owner this process writes into the attempt folders it makes for run `runId`. */
export function spaceOwner(runId: string): SpaceOwner {
  return { run_id: runId, pid: process.pid, host: os.hostname() };
}
