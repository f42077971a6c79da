import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic } from "./atomic-fs.js";
import { coreErrors } from "./errors.js";
import type { Clock } from "./ports.js";

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** Random per acquisition; tells this holder's lock from a successor's. */
  token: string;
  acquired_at: string;
  expires_at: string;
  purpose: string;
}

export interface LockHandle {
  readonly info: LockInfo;
  /** The lease this one replaced, when a stale lock was taken over. */
  readonly tookOver: LockInfo | null;
  /** Extend the lease; throws ERR_LOCK_LOST when another process holds the lock now. */
  renew(): void;
  /** Remove the lock if it is still ours. */
  release(): void;
}

export interface AcquireLockOptions {
  clock: Clock;
  /** Lease length; a holder renews before it runs out. Default 30 s. */
  leaseMs?: number;
  purpose?: string;
  /** For tests: identity of this process. */
  pid?: number;
  host?: string;
  /** For tests: is a process alive on this host? */
  isAlive?: (pid: number) => boolean;
}

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): LockInfo | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    // A torn or garbled lock file: treat as stale, identity unknown.
    return {
      pid: -1,
      host: "",
      token: "",
      acquired_at: "",
      expires_at: "1970-01-01T00:00:00.000Z",
      purpose: "",
    };
  }
}

/**
 * Take a single-writer lease on `file`. A live holder → ERR_LOCK_HELD (with its pid
 * and host). A holder whose lease expired and whose process is gone (or is on
 * another host and stopped renewing) is taken over; the handle reports whom it replaced.
 */
export function acquireLock(file: string, options: AcquireLockOptions): LockHandle {
  const leaseMs = options.leaseMs ?? 30_000;
  const pid = options.pid ?? process.pid;
  const host = options.host ?? os.hostname();
  const isAlive = options.isAlive ?? defaultIsAlive;
  const make = (): LockInfo => {
    const now = options.clock.now();
    return {
      pid,
      host,
      token: randomBytes(8).toString("hex"),
      acquired_at: now,
      expires_at: new Date(Date.parse(now) + leaseMs).toISOString(),
      purpose: options.purpose ?? "run",
    };
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let tookOver: LockInfo | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const info = make();
    try {
      const fd = fs.openSync(file, "wx", 0o644);
      try {
        fs.writeFileSync(fd, `${JSON.stringify(info)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return handle(file, info, tookOver, options.clock, leaseMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = readLock(file);
    if (holder === null) continue;
    const expired = Date.parse(holder.expires_at) <= Date.parse(options.clock.now());
    const deadHere = holder.host === host && holder.pid !== pid && !isAlive(holder.pid);
    const stale = holder.pid === -1 || (expired && (holder.host !== host || deadHere)) || deadHere;
    if (!stale) {
      throw coreErrors.create(
        "ERR_LOCK_HELD",
        `${file} is held by pid ${holder.pid} on ${holder.host} until ${holder.expires_at}`,
        { details: { file, pid: holder.pid, host: holder.host, expires_at: holder.expires_at } },
      );
    }
    // Move the stale lock aside; of several contenders exactly one rename succeeds.
    const aside = `${file}.stale.${randomBytes(4).toString("hex")}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved && moved.token !== holder.token) {
      // We moved a fresh lock someone else just created: put it back (link fails if taken again).
      try {
        fs.linkSync(aside, file);
      } catch {
        // The slot was taken meanwhile; that holder wins.
      }
      fs.rmSync(aside, { force: true });
      continue;
    }
    fs.rmSync(aside, { force: true });
    tookOver = holder;
  }
  throw coreErrors.create("ERR_LOCK_HELD", `could not acquire ${file}: too much contention`, {
    details: { file },
  });
}

function handle(
  file: string,
  info: LockInfo,
  tookOver: LockInfo | null,
  clock: Clock,
  leaseMs: number,
): LockHandle {
  let current = info;
  return {
    get info() {
      return current;
    },
    tookOver,
    renew() {
      const onDisk = readLock(file);
      if (!onDisk || onDisk.token !== current.token) {
        throw coreErrors.create("ERR_LOCK_LOST", `${file} is no longer held by this process`, {
          details: { file, holder: onDisk },
        });
      }
      current = { ...current, expires_at: new Date(Date.parse(clock.now()) + leaseMs).toISOString() };
      writeFileAtomic(file, `${JSON.stringify(current)}\n`);
    },
    release() {
      const onDisk = readLock(file);
      if (onDisk && onDisk.token === current.token) fs.rmSync(file, { force: true });
    },
  };
}
