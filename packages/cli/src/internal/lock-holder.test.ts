import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { liveHolder } from "./lock-holder.js";

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir("dwm-run-lock-");
});
afterEach(() => dir.cleanup());

const NOW = new Date().toISOString();
const lock = (text: string) => fs.writeFileSync(path.join(dir.path, "lock"), text);
const lease = (pid: number, host: string, expires: string) =>
  JSON.stringify({ pid, host, token: "t", acquired_at: NOW, expires_at: expires, purpose: "run" });

describe("liveHolder: the run lock's live holder, by runtime's runLockHeld", () => {
  it("no lock is free; a live process here holds it whatever its lease says; a dead one does not", () => {
    expect(liveHolder(dir.path, NOW)).toBeNull();
    lock(lease(process.pid, os.hostname(), "2000-01-01T00:00:00.000Z"));
    expect(liveHolder(dir.path, NOW)).toEqual({
      pid: process.pid,
      host: os.hostname(),
      expires_at: "2000-01-01T00:00:00.000Z",
    });
    lock(lease(2 ** 22 + 17, os.hostname(), "2100-01-01T00:00:00.000Z"));
    expect(liveHolder(dir.path, NOW)).toBeNull();
  });

  it("another host's holder counts while its lease runs (its pid cannot be checked from here)", () => {
    lock(lease(process.pid, "elsewhere.invalid", "2100-01-01T00:00:00.000Z"));
    expect(liveHolder(dir.path, NOW)?.host).toBe("elsewhere.invalid");
    lock(lease(process.pid, "elsewhere.invalid", "2000-01-01T00:00:00.000Z"));
    expect(liveHolder(dir.path, NOW)).toBeNull();
  });

  it("an empty or partial lock is being written: held (pid -1) until older than a lease", () => {
    for (const text of ["", '{"pid":']) {
      lock(text);
      expect(liveHolder(dir.path, NOW)).toMatchObject({ pid: -1, host: "" });
      const later = new Date(Date.now() + 31_000).toISOString();
      expect(liveHolder(dir.path, later)).toBeNull();
    }
  });
});
