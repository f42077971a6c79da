// The run lock's live holder, apart from run-model.ts: `dwm status` asks for it, and importing
// run-model.ts loads the compiler and the dispatcher, which status does not need.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOCK_FILE, runLockHeld } from "@dwm/runtime";

/** A runner's lease on the run lock. */
export interface LockHolder {
  pid: number;
  host: string;
  expires_at: string;
}

/** How long a lock file being written counts as held (runtime's runLockHeld default, core's lease). */
const LEASE_MS = 30_000;

/**
 * The live holder of a run's lock, by the one rule the check before a change uses (runtime's
 * runLockHeld): a holder on this host while its process lives, on another host while its lease
 * runs, and an empty or partial lock file (a contender between create and write) until it is
 * older than a lease: then pid -1 and no host, as @dwm/core's acquireLock reports it. Null: free.
 */
export function liveHolder(runDir: string, now: string): LockHolder | null {
  const file = path.join(runDir, LOCK_FILE);
  if (!runLockHeld(file, now, os.hostname(), LEASE_MS)) return null;
  let text = "";
  let mtimeMs = Date.parse(now);
  try {
    text = fs.readFileSync(file, "utf8");
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    // gone since: it was held a moment ago, identity unknown
  }
  try {
    const info = JSON.parse(text) as { pid?: unknown; host?: unknown; expires_at?: unknown };
    if (typeof info.pid === "number")
      return { pid: info.pid, host: String(info.host ?? ""), expires_at: String(info.expires_at ?? "") };
  } catch {
    // being written: below
  }
  return { pid: -1, host: "", expires_at: new Date(mtimeMs + LEASE_MS).toISOString() };
}
