import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pidAlive } from "@dwm/core";
import { removeSpace } from "./internal/attempt-space.js";
import { SPACE_OWNER_FILE, type SpaceOwner } from "./internal/space-owner.js";

// Attempt folders (reserveSpace) and a run's shared views (createSharedViews with a run id).
const SWEPT_PREFIXES = ["dwm-wt-", "dwm-views-"];

function readOwner(dir: string): SpaceOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, SPACE_OWNER_FILE), "utf8")) as Partial<SpaceOwner>;
    if (typeof o.run_id !== "string" || typeof o.pid !== "number" || typeof o.host !== "string") return null;
    return { run_id: o.run_id, pid: o.pid, host: o.host };
  } catch {
    return null;
  }
}

/**
 * Remove the attempt folders a crash left under the worktree root (default: the OS temp folder):
 * `dwm-wt-*` folders, and `dwm-views-*` folders of a run's shared views, whose owner marker names
 * a process of this host that is gone, and, with
 * `runId`, this run. A folder without a marker, another host's, or a live process's (this one's
 * included) is left alone. Returns the folders removed.
 */
export function removeDeadAttemptSpaces(root: string | undefined, scope: { runId?: string } = {}): string[] {
  let dir: string;
  let names: string[];
  try {
    dir = fs.realpathSync(root ?? os.tmpdir());
    names = fs.readdirSync(dir).filter((n) => SWEPT_PREFIXES.some((p) => n.startsWith(p)));
  } catch {
    return [];
  }
  const host = os.hostname();
  const removed: string[] = [];
  for (const name of names.sort()) {
    const space = path.join(dir, name);
    const owner = readOwner(space);
    if (owner === null || owner.host !== host || owner.pid === process.pid || pidAlive(owner.pid)) continue;
    if (scope.runId !== undefined && owner.run_id !== scope.runId) continue;
    try {
      removeSpace(space);
      removed.push(space);
    } catch {
      // left for the next sweep
    }
  }
  return removed;
}
