// The run lock's live holder, apart from run-model.ts: `dwm status` asks for it, and importing
// run-model.ts loads the compiler and the dispatcher, which status does not need.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOCK_FILE } from "@dwm/runtime";

/** A runner's lease on the run lock. */
export interface LockHolder {
  pid: number;
  host: string;
  expires_at: string;
}

/**
 * A live runner's lease, if one holds the run's lock now: what `dwm run` would be refused for
 * (the rule of @dwm/core's acquireLock: a lease is stale when its process is dead on this
 * host, or it expired on another host).
 */
export function liveHolder(runDir: string, now: string): LockHolder | null {
  let info: LockHolder;
  try {
    info = JSON.parse(fs.readFileSync(path.join(runDir, LOCK_FILE), "utf8")) as LockHolder;
  } catch {
    return null;
  }
  if (typeof info.pid !== "number" || info.pid === -1) return null;
  const here = info.host === os.hostname();
  const expired = !(Date.parse(info.expires_at) > Date.parse(now));
  if (here ? !alive(info.pid) : expired) return null;
  return info;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
