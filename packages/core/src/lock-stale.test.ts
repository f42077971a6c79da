import { describe, expect, it } from "vitest";
import { isStaleLock, type LockInfo } from "./lock.js";

const NOW = "2026-01-01T00:00:10.000Z";
const lease = (pid: number, host: string, expires_at: string): LockInfo => ({
  pid,
  host,
  token: "t",
  acquired_at: "2026-01-01T00:00:00.000Z",
  expires_at,
  purpose: "run",
});
const LIVE = "2026-01-01T00:00:20.000Z";
const EXPIRED = "2026-01-01T00:00:10.000Z";

describe("isStaleLock: when a holder's lock may be taken over", () => {
  const me = (alive: boolean) => ({ pid: 2, host: "h", isAlive: () => alive });

  it("an empty or garbled lock file (pid -1) only once it is older than a lease: younger, it is being written", () => {
    expect(isStaleLock(lease(-1, "", LIVE), me(false), NOW)).toBe(false);
    expect(isStaleLock(lease(-1, "", EXPIRED), me(true), NOW)).toBe(true);
  });

  it("on this host: exactly when the holder's process is gone, whatever its lease says", () => {
    expect(isStaleLock(lease(1, "h", LIVE), me(false), NOW)).toBe(true);
    expect(isStaleLock(lease(1, "h", LIVE), me(true), NOW)).toBe(false);
    expect(isStaleLock(lease(1, "h", EXPIRED), me(true), NOW)).toBe(false);
  });

  it("on another host: exactly when its lease ran out (its process cannot be checked)", () => {
    expect(isStaleLock(lease(1, "other", LIVE), me(false), NOW)).toBe(false);
    expect(isStaleLock(lease(1, "other", EXPIRED), me(true), NOW)).toBe(true);
  });

  it("never our own pid on our host, even expired (a renewal race is not a death)", () => {
    let asked = false;
    const isAlive = () => {
      asked = true;
      return false;
    };
    const mine = { pid: 1, host: "h", isAlive };
    expect(isStaleLock(lease(1, "h", EXPIRED), mine, NOW)).toBe(false);
    expect(asked).toBe(false);
  });
});
