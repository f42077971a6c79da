import fs from "node:fs";
import path from "node:path";

/** Variables the executor gives every worker and check (docs/backends.md). */
const WORKER_VARIABLES = ["DWM_ATTEMPT", "DWM_WORKER_ID", "DWM_WORKTREE", "DWM_PACKET_ID"] as const;

/**
 * Why this process looks like it runs inside a DWM worker (its environment or its
 * working directory), or null. `dwm approve` / `dwm reject` refuse to run there: an
 * agent that reads "run dwm approve" in its prompt or in `dwm next` must not be able to
 * approve its own gate by doing so. Defence in depth, not the boundary (docs/security.md).
 */
export function workerEnvironmentReason(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string | null {
  const set = WORKER_VARIABLES.filter((n) => env[n] !== undefined && env[n] !== "");
  if (set.length > 0) return `the environment has ${set.join(", ")}, which DWM gives its workers`;
  let dir = path.resolve(cwd);
  for (;;) {
    if (/^dwm-wt-/.test(path.basename(dir))) return `the working directory is inside a DWM worktree (${dir})`;
    if (fs.existsSync(path.join(dir, ".dwm-inputs")))
      return `the working directory is inside a DWM worktree (${dir} has .dwm-inputs)`;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
