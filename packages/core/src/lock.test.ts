import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "./lock.js";
import type { Clock } from "./ports.js";

let dir: string;
let t: number;
const clock: Clock = { now: () => new Date(t).toISOString(), monotonicMs: () => t };
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-lock-"));
  t = Date.parse("2026-01-01T00:00:00Z");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("acquireLock", () => {
  it("refuses a second holder while the first is alive, naming it", () => {
    const file = path.join(dir, "lock");
    const a = acquireLock(file, { clock, pid: 100, host: "h", isAlive: () => true });
    let err: { code?: string; details?: { pid?: number; host?: string } } = {};
    try {
      acquireLock(file, { clock, pid: 200, host: "h", isAlive: () => true });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe("ERR_LOCK_HELD");
    expect(err.details).toMatchObject({ pid: 100, host: "h" });
    a.release();
    const b = acquireLock(file, { clock, pid: 200, host: "h", isAlive: () => true });
    expect(b.tookOver).toBeNull();
  });

  it("takes over the lock of a dead process on this host and reports it", () => {
    const file = path.join(dir, "lock");
    acquireLock(file, { clock, pid: 100, host: "h" });
    const b = acquireLock(file, { clock, pid: 200, host: "h", isAlive: (p) => p !== 100 });
    expect(b.tookOver?.pid).toBe(100);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).pid).toBe(200);
  });

  it("takes over another host's lock only after its lease expired", () => {
    const file = path.join(dir, "lock");
    acquireLock(file, { clock, pid: 100, host: "other", leaseMs: 1000 });
    expect(code(() => acquireLock(file, { clock, pid: 200, host: "h" }))).toBe("ERR_LOCK_HELD");
    t += 1001;
    expect(acquireLock(file, { clock, pid: 200, host: "h" }).tookOver?.host).toBe("other");
  });

  it("renew fails once the lock was taken over; release leaves a successor's lock alone", () => {
    const file = path.join(dir, "lock");
    const a = acquireLock(file, { clock, pid: 100, host: "other", leaseMs: 1000 });
    a.renew();
    t += 5000;
    const b = acquireLock(file, { clock, pid: 200, host: "h" });
    expect(code(() => a.renew())).toBe("ERR_LOCK_LOST");
    a.release();
    expect(fs.existsSync(file)).toBe(true);
    b.release();
    expect(fs.existsSync(file)).toBe(false);
  });

  it("treats a garbled lock file as stale once it is older than the lease", () => {
    const file = path.join(dir, "lock");
    fs.writeFileSync(file, "{torn");
    const old = new Date(t - 31_000);
    fs.utimesSync(file, old, old);
    expect(acquireLock(file, { clock, pid: 1, host: "h" }).tookOver?.pid).toBe(-1);
  });

  it("holds an empty or partial lock file younger than the lease: another contender is writing it", () => {
    const file = path.join(dir, "lock");
    for (const partial of ["", '{"pid":12']) {
      fs.writeFileSync(file, partial);
      const now = new Date(t - 1000);
      fs.utimesSync(file, now, now);
      expect(code(() => acquireLock(file, { clock, pid: 1, host: "h", leaseMs: 30_000 }))).toBe(
        "ERR_LOCK_HELD",
      );
      expect(fs.readFileSync(file, "utf8")).toBe(partial);
      t += 30_000;
      expect(acquireLock(file, { clock, pid: 1, host: "h", leaseMs: 30_000 }).tookOver?.pid).toBe(-1);
      fs.rmSync(file);
    }
  });
});
