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

/** Is process `pid` alive on this host (EPERM: alive, another user's)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The lock file's lease, or null when there is none. An empty or partial file is what a
 * contender sees in the instant between another's create and write: it is held (identity
 * unknown, pid -1) until it is older than a lease, and only then stale.
 */
function readLock(file: string, leaseMs: number): LockInfo | null {
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (typeof info === "object" && info !== null && typeof info.pid === "number") return info;
  } catch {
    // torn or garbled: below
  }
  return {
    pid: -1,
    host: "",
    token: "",
    acquired_at: new Date(mtimeMs).toISOString(),
    expires_at: new Date(mtimeMs + leaseMs).toISOString(),
    purpose: "",
  };
}

/** Who is asking for the lock, and how it tells a live holder from a dead one. */
interface Contender {
  pid: number;
  host: string;
  isAlive: (pid: number) => boolean;
}

/**
 * Whether a holder's lock may be taken over: an empty or garbled lock file older than a
 * lease (a younger one is being written); a holder on this host whose process is gone; or
 * a holder on another host whose lease ran out (its process cannot be checked from here,
 * so only the lease tells).
 */
export function isStaleLock(holder: LockInfo, me: Contender, now: string): boolean {
  const expired = Date.parse(holder.expires_at) <= Date.parse(now);
  if (holder.pid === -1) return expired;
  const deadHere = holder.host === me.host && holder.pid !== me.pid && !me.isAlive(holder.pid);
  return deadHere || (expired && holder.host !== me.host);
}

/** Create the lock file with our lease, or false when it already exists. */
function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    fs.writeFileSync(fd, `${JSON.stringify(info)}\n`);
    fs.fsyncSync(fd);
  } catch (e) {
    // A lock we could not write (a full disk) must not stay behind: it would hold the run for a lease.
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  return true;
}

/**
 * Move a stale holder's lock aside; of several contenders exactly one rename succeeds.
 * True when the lock moved was that holder's; a fresh lock moved by mistake is put back.
 */
function moveAside(file: string, holder: LockInfo, leaseMs: number): boolean {
  const aside = `${file}.stale.${randomBytes(4).toString("hex")}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return false;
  }
  const moved = readLock(aside, leaseMs);
  const ours = !(moved && moved.token !== holder.token);
  if (!ours) {
    // We moved a fresh lock someone else just created: put it back (link fails if taken again).
    try {
      fs.linkSync(aside, file);
    } catch {
      // The slot was taken meanwhile; that holder wins.
    }
  }
  fs.rmSync(aside, { force: true });
  return ours;
}

/**
 * Take a single-writer lease on `file`. A live holder → ERR_LOCK_HELD (with its pid
 * and host). A holder whose lease expired and whose process is gone (or is on
 * another host and stopped renewing) is taken over; the handle reports whom it replaced.
 */
export function acquireLock(file: string, options: AcquireLockOptions): LockHandle {
  const leaseMs = options.leaseMs ?? 30_000;
  const me: Contender = {
    pid: options.pid ?? process.pid,
    host: options.host ?? os.hostname(),
    isAlive: options.isAlive ?? pidAlive,
  };
  const make = (): LockInfo => {
    const now = options.clock.now();
    return {
      pid: me.pid,
      host: me.host,
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
    if (tryCreate(file, info)) return handle(file, info, tookOver, options.clock, leaseMs);
    const holder = readLock(file, leaseMs);
    if (holder === null) continue;
    if (!isStaleLock(holder, me, options.clock.now())) {
      throw coreErrors.create(
        "ERR_LOCK_HELD",
        holder.pid === -1
          ? `${file} is being written by another process (an empty or partial lock file); it counts as held until ${holder.expires_at}`
          : `${file} is held by pid ${holder.pid} on ${holder.host} until ${holder.expires_at}`,
        { details: { file, pid: holder.pid, host: holder.host, expires_at: holder.expires_at } },
      );
    }
    if (moveAside(file, holder, leaseMs)) tookOver = holder;
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
      const onDisk = readLock(file, leaseMs);
      if (!onDisk || onDisk.token !== current.token) {
        throw coreErrors.create("ERR_LOCK_LOST", `${file} is no longer held by this process`, {
          details: { file, holder: onDisk },
        });
      }
      current = { ...current, expires_at: new Date(Date.parse(clock.now()) + leaseMs).toISOString() };
      writeFileAtomic(file, `${JSON.stringify(current)}\n`);
    },
    release() {
      const onDisk = readLock(file, leaseMs);
      if (onDisk && onDisk.token === current.token) fs.rmSync(file, { force: true });
    },
  };
}
