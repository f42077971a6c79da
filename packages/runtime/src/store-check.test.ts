// checkStoreFolded (what status and next run first) and the store check's reading of state.json.
import fs from "node:fs";
import path from "node:path";
import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { foldJournal } from "./fold.js";
import { openJournal, readJournal, readRun } from "./journal.js";
import { completePacket } from "./test-support/drive.js";
import { makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import { TRUST } from "./test-support/sign.js";
import { checkStore, checkStoreFolded, verifyCacheFile, verifyRun } from "./verify.js";
import { verifySignatures } from "./verify-signatures.js";

const clock = () => new FakeClock("2026-01-01T00:00:00.000Z", 1000);
const later = () => Date.now() + 60_000;

/** A run with two completed packets, in a folder that is a repository's (the stat cache lives in its git directory). */
function withRun(f: (s: TestRunStore) => void): void {
  const s = makeRunStore();
  try {
    fs.mkdirSync(path.join(s.tmp.path, ".git"));
    const j = openJournal(s.runDir, { clock: clock(), pid: 1, host: "h" });
    completePacket(j, s, "inventory");
    completePacket(j, s, "implement");
    j.close();
    f(s);
  } finally {
    s.cleanup();
  }
}

const stateFile = (s: TestRunStore) => path.join(s.runDir, "state.json");

describe("checkStoreFolded", () => {
  it("returns checkStore's report with the journal's events and their fold, cold and through the cache", () => {
    withRun((s) => {
      const events = readJournal(s.runDir).events;
      const state = foldJournal(events, readRun(s.runDir).run);
      for (let i = 0; i < 2; i++) {
        const checked = checkStoreFolded(s.runDir, { nowMs: later(), trust: TRUST });
        expect(checked.report).toEqual(verifyRun(s.runDir, { trust: TRUST }));
        expect(checked.events).toEqual(events);
        expect(checked.state).toEqual(state);
        expect(checked.state?.packets.implement?.state).toBe("completed");
      }
    });
  });

  it("has no state for a journal that fails its anchors", () => {
    withRun((s) => {
      const file = path.join(s.runDir, "journal.jsonl");
      const lines = fs.readFileSync(file, "utf8").split("\n");
      fs.writeFileSync(file, `${lines.slice(0, -3).join("\n")}\n`);
      const checked = checkStoreFolded(s.runDir, { nowMs: later(), trust: TRUST });
      expect(checked.report.ok).toBe(false);
      expect(checked.state).toBeNull();
    });
  });
});

describe("the store check's attested files", () => {
  it("are hashed once: the signature check takes the digests the file check found", () => {
    withRun((s) => {
      const events = readJournal(s.runDir).events;
      const wrong = `sha256:${"0".repeat(64)}`;
      const found = new Map([["attempts/implement/1/stdout", wrong]]);
      const r = verifySignatures(s.runDir, events, TRUST, new Set(), found);
      expect(r.problems.map((p) => [p.code, p.file])).toEqual([
        ["ERR_VERIFY_SIGNATURE", "attestations/packets/implement/1.json"],
      ]);
      expect(r.problems[0]?.message).toContain(`now ${"0".repeat(64)}`);
    });
  });

  it("changed after caching (same size, mtime put back), fail their file and signature checks through the cache as in verify", () => {
    withRun((s) => {
      for (let i = 0; i < 2; i++)
        expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).ok).toBe(true);
      const file = path.join(s.runDir, "attempts/implement/1/stdout");
      const before = fs.statSync(file);
      const text = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, text.replace("work", "WORK"));
      fs.utimesSync(file, before.atime, before.mtime);
      expect(fs.statSync(file).size).toBe(before.size);
      const cached = checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      expect(cached).toEqual(verifyRun(s.runDir, { trust: TRUST }));
      expect(cached.problems.map((p) => [p.code, p.file])).toEqual([
        ["ERR_VERIFY_FILE_DIGEST", "attempts/implement/1/stdout"],
        ["ERR_VERIFY_SIGNATURE", "attestations/packets/implement/1.json"],
      ]);
    });
  });
});

describe("the store check's run.json", () => {
  it("is checked once per change: unchanged, it is parsed only; changed, every check runs again", () => {
    withRun((s) => {
      const run = readRun(s.runDir).run;
      const cold = checkStoreFolded(s.runDir, { nowMs: later(), trust: TRUST });
      expect(cold.run).toEqual(run);
      const cache = JSON.parse(fs.readFileSync(verifyCacheFile(s.runDir) as string, "utf8"));
      expect(cache.files["run.json"].digest).toBe(readRun(s.runDir).digest);
      const warm = checkStoreFolded(s.runDir, { nowMs: later(), trust: TRUST });
      expect(warm.run).toEqual(run);
      expect(warm.report).toEqual(verifyRun(s.runDir, { trust: TRUST }));
      // Not canonically rendered any more (same value): verify's problem, and no run from the check.
      const file = path.join(s.runDir, "run.json");
      fs.writeFileSync(file, JSON.stringify(run, null, 2));
      const changed = checkStoreFolded(s.runDir, { nowMs: later(), trust: TRUST });
      expect(changed.report.problems).toEqual(verifyRun(s.runDir, { trust: TRUST }).problems);
      expect(changed.report.problems.map((p) => p.file)).toContain("run.json");
      expect(changed.run).toBeNull();
    });
  });

  it("a different run.json than the journal recorded is found through the cache too", () => {
    withRun((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      const run = readRun(s.runDir).run;
      fs.writeFileSync(
        path.join(s.runDir, "run.json"),
        `${JSON.stringify({ ...run, revision: run.revision + 1 })}`,
      );
      const codes = checkStore(s.runDir, { nowMs: later(), trust: TRUST }).problems.map((p) => p.code);
      expect(codes).toEqual(verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => p.code));
      expect(codes).toContain("ERR_VERIFY_RUN_DIGEST");
    });
  });
});

describe("the store check's state.json", () => {
  it("is schema-checked once per change: the cache records it, a changed state.json is checked again", () => {
    withRun((s) => {
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).state_cache).toBe("fresh");
      const cache = JSON.parse(fs.readFileSync(verifyCacheFile(s.runDir) as string, "utf8"));
      expect(cache.files["state.json"].digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).state_cache).toBe("fresh");
      // Same seq and head, but no longer a run state: stale for the check as for verify.
      const doc = JSON.parse(fs.readFileSync(stateFile(s), "utf8"));
      fs.writeFileSync(stateFile(s), JSON.stringify({ ...doc, packets: 7 }));
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).state_cache).toBe("stale");
      expect(verifyRun(s.runDir, { trust: TRUST }).state_cache).toBe("stale");
    });
  });

  it("missing, unreadable or behind the journal, as verify says", () => {
    withRun((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      const doc = JSON.parse(fs.readFileSync(stateFile(s), "utf8"));
      fs.writeFileSync(stateFile(s), JSON.stringify({ ...doc, seq: doc.seq - 1 }));
      const behind = checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      expect(behind.state_cache).toBe("stale");
      expect(behind).toEqual(verifyRun(s.runDir, { trust: TRUST }));
      fs.writeFileSync(stateFile(s), "{");
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).state_cache).toBe("stale");
      fs.rmSync(stateFile(s));
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).state_cache).toBe("missing");
      expect(verifyRun(s.runDir, { trust: TRUST }).state_cache).toBe("missing");
    });
  });
});
