// Issue 22: the journal's head is anchored outside it, a run never starts a new history over
// evidence, the torn-tail repair never drops complete events, and crash leftovers are told from
// tampering (and recovered, journaled, by the next writer).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it, vi } from "vitest";
import { encodeEvent, eventBody, JOURNAL_FILE } from "./events.js";
import { openJournal, readJournal } from "./journal.js";
import { HEAD_FILE, readJournalHead, writeJournalHead } from "./journal-head.js";
import { runLockHeld } from "./leftovers.js";
import { completePacket } from "./test-support/drive.js";
import { makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import { TRUST } from "./test-support/sign.js";
import { checkStore, verifyCacheFile, verifyRun } from "./verify.js";

const clock = () => new FakeClock("2026-01-01T00:00:00.000Z", 1000);
const open = (s: TestRunStore) => openJournal(s.runDir, { clock: clock(), pid: 1, host: "h" });

/** A run with two completed packets: attempts/ and reviews/ hold evidence. */
function withRun(f: (s: TestRunStore) => void): void {
  const s = makeRunStore();
  try {
    const j = open(s);
    completePacket(j, s, "inventory");
    completePacket(j, s, "implement");
    j.close();
    f(s);
  } finally {
    s.cleanup();
  }
}

const journalFile = (s: TestRunStore) => path.join(s.runDir, JOURNAL_FILE);
const lines = (s: TestRunStore) => fs.readFileSync(journalFile(s), "utf8").split("\n").slice(0, -1);
const codes = (s: TestRunStore) =>
  verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file]);

function openCode(s: TestRunStore): string | undefined {
  try {
    open(s).close();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** A pid that no process has now. */
function deadPid(): number {
  const p = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(p.stdout.toString());
}

describe("journal.head: the journal's head anchored outside it", () => {
  it("is rewritten after every append with the last event's seq, digest and end", () => {
    withRun((s) => {
      const { head } = readJournalHead(s.runDir);
      const evs = readJournal(s.runDir).events;
      const last = evs.at(-1);
      expect(head).toEqual({
        kind: "journal-head",
        schema_version: "1",
        seq: last?.seq,
        digest: last?.digest,
        bytes: fs.statSync(journalFile(s)).size,
      });
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });

  it("dropping the last two complete lines: verify fails (it said intact before), and no writer opens it", () => {
    withRun((s) => {
      const all = lines(s);
      const before = `${all.slice(0, -2).join("\n")}\n`;
      fs.writeFileSync(journalFile(s), before);
      const r = verifyRun(s.runDir, { trust: TRUST });
      expect(r.ok).toBe(false);
      expect(r.problems).toContainEqual(
        expect.objectContaining({
          code: "ERR_VERIFY_JOURNAL_TRUNCATED",
          file: JOURNAL_FILE,
          expected: String(all.length),
          actual: String(all.length - 2),
          repairable: false,
        }),
      );
      expect(openCode(s)).toBe("ERR_VERIFY_JOURNAL_TRUNCATED");
      expect(fs.readFileSync(journalFile(s), "utf8")).toBe(before);
    });
  });

  it("halving the journal: the torn-tail repair refuses instead of dropping the complete events after the cut", () => {
    withRun((s) => {
      const full = fs.readFileSync(journalFile(s));
      const half = full.subarray(0, Math.floor(full.length / 2));
      fs.writeFileSync(journalFile(s), half);
      const problems = verifyRun(s.runDir, { trust: TRUST }).problems;
      expect(problems.slice(0, 2).map((p) => [p.code, p.repairable])).toEqual([
        ["ERR_VERIFY_TORN_TAIL", true],
        ["ERR_VERIFY_JOURNAL_TRUNCATED", false],
      ]);
      // The evidence of the cut-off events is named by nothing now; none of it passes for a leftover.
      expect(problems.filter((p) => p.repairable).map((p) => p.code)).toEqual(["ERR_VERIFY_TORN_TAIL"]);
      expect(openCode(s)).toBe("ERR_VERIFY_JOURNAL_TRUNCATED");
      expect(fs.readFileSync(journalFile(s)).equals(half)).toBe(true);
    });
  });

  it("a torn line past the anchored head is still cut (and only it)", () => {
    withRun((s) => {
      const complete = fs.readFileSync(journalFile(s));
      fs.appendFileSync(journalFile(s), '{"seq":99,"prev":"sha');
      const j = open(s);
      expect(j.repaired?.offset).toBe(complete.length);
      j.close();
      expect(fs.readFileSync(journalFile(s)).subarray(0, complete.length).equals(complete)).toBe(true);
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });

  it("a deleted journal with evidence left: verify says missing, and no writer starts a new history", () => {
    withRun((s) => {
      fs.rmSync(journalFile(s));
      expect(codes(s)).toContainEqual(["ERR_VERIFY_JOURNAL_MISSING", JOURNAL_FILE]);
      expect(openCode(s)).toBe("ERR_VERIFY_JOURNAL_MISSING");
      expect(fs.existsSync(journalFile(s))).toBe(false);
      // Without journal.head and state.json too, the evidence folders still tell.
      fs.rmSync(path.join(s.runDir, HEAD_FILE));
      fs.rmSync(path.join(s.runDir, "state.json"));
      expect(codes(s)).toContainEqual(["ERR_VERIFY_JOURNAL_MISSING", JOURNAL_FILE]);
      expect(openCode(s)).toBe("ERR_VERIFY_JOURNAL_MISSING");
      expect(fs.existsSync(journalFile(s))).toBe(false);
      expect(fs.existsSync(path.join(s.runDir, "attempts", "inventory", "1", "attempt.json"))).toBe(true);
    });
  });

  it("a replaced journal (a valid chain of other events) is seen against the head", () => {
    withRun((s) => {
      const all = lines(s).map((l) => JSON.parse(l));
      // Re-time the last event and re-chain it: every line is valid, the history is not this one.
      const last = all.at(-1);
      const forged = encodeEvent(eventBody({ ...last, at: "2026-06-01T00:00:00.000Z" }));
      const text = `${lines(s).slice(0, -1).join("\n")}\n${forged.line}\n`;
      fs.writeFileSync(journalFile(s), text);
      // Same length so the byte check alone would not tell.
      expect(Buffer.byteLength(text)).toBe(fs.statSync(journalFile(s)).size);
      expect(codes(s)).toEqual([["ERR_VERIFY_JOURNAL_HEAD", HEAD_FILE]]);
      expect(openCode(s)).toBe("ERR_VERIFY_JOURNAL_HEAD");
    });
  });

  it("a journal longer than its head (a crash after the append, before the head) is intact", () => {
    withRun((s) => {
      const { head } = readJournalHead(s.runDir);
      const j = open(s);
      j.append("run.stopped", { reason: "interrupted", detail: "test" });
      j.close();
      if (head === null) throw new Error("no head");
      writeJournalHead(s.runDir, { seq: head.seq, digest: head.digest, bytes: head.bytes });
      expect(verifyRun(s.runDir, { trust: TRUST }).problems).toEqual([]);
    });
  });
});

describe("crash leftovers: recoverable, not tampering", () => {
  it("a temp file of an atomic write whose writer died: repairable in verify, removed and journaled by the next writer", () => {
    withRun((s) => {
      const rel = `attempts/inventory/1/.attempt.json.${deadPid()}.0a1b2c3d.tmp`;
      fs.writeFileSync(path.join(s.runDir, rel), "{");
      const r = verifyRun(s.runDir, { trust: TRUST });
      expect(r.problems.map((p) => [p.code, p.file, p.repairable])).toEqual([
        ["ERR_VERIFY_LEFTOVER_TEMP", rel, true],
      ]);
      const j = open(s);
      const last = readJournal(s.runDir).events.filter((e) => e.type === "store.recovered");
      j.close();
      expect(last.map((e) => e.data)).toEqual([
        { leftovers: [expect.objectContaining({ kind: "temp-file", path: rel })] },
      ]);
      expect(fs.existsSync(path.join(s.runDir, rel))).toBe(false);
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });

  it("a temp file of a live writer is left alone", () => {
    withRun((s) => {
      const rel = `approvals/.1.json.${process.ppid}.0a1b2c3d.tmp`;
      fs.mkdirSync(path.join(s.runDir, "approvals"), { recursive: true });
      fs.writeFileSync(path.join(s.runDir, rel), "{");
      open(s).close();
      expect(fs.existsSync(path.join(s.runDir, rel))).toBe(true);
      expect(verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.repairable])).toEqual([
        ["ERR_VERIFY_LEFTOVER_TEMP", true],
      ]);
    });
  });

  it("the unjournaled folder of an attempt in flight is one repairable leftover, not unexpected files", () => {
    withRun((s) => {
      const j = open(s);
      j.append("packet.dispatched", {
        packet_id: "review",
        attempt: 1,
        packet_digest: s.run.packets.find((p) => p.packet_id === "review")?.digest ?? "",
        base_commit: null,
        backend: "shell",
      });
      j.close();
      s.putFile("attempts/review/1/stdout", "half");
      s.putFile("attempts/review/1/outputs/x.txt", "x");
      expect(
        verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file, p.repairable]),
      ).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "attempts/review/1", true]]);
      // A folder of an attempt the journal never dispatched is not a leftover.
      s.putFile("attempts/review/7/stdout", "?");
      expect(codes(s)).toContainEqual(["ERR_VERIFY_UNEXPECTED_FILE", "attempts/review/7/stdout"]);
    });
  });

  // A handoff copied and an attestation written before the event naming them: planted-leftovers.test.ts
  // (a leftover only with the name, content and moment a crash leaves; otherwise tampering).

  it("a stale git lock of a ref DWM owns for the run: repairable, removed and journaled by the next writer", () => {
    withRun((s) => {
      const refs = path.join(s.tmp.path, ".git", "refs", "heads", "dwm", s.run.run_id);
      fs.mkdirSync(refs, { recursive: true });
      fs.writeFileSync(path.join(refs, "integration.lock"), "0".repeat(40));
      const ref = `refs/heads/dwm/${s.run.run_id}/integration`;
      expect(
        verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file, p.repairable]),
      ).toEqual([["ERR_VERIFY_LEFTOVER_REF_LOCK", `${ref}.lock`, true]]);
      open(s).close();
      expect(fs.existsSync(path.join(refs, "integration.lock"))).toBe(false);
      const rec = readJournal(s.runDir).events.find((e) => e.type === "store.recovered");
      expect(rec?.data).toEqual({ leftovers: [expect.objectContaining({ kind: "ref-lock", path: ref })] });
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });

  it("a stale git lock of an attempt's ref (refs/dwm/<run>/attempts/…): repairable, removed by the next writer", () => {
    withRun((s) => {
      const refs = path.join(s.tmp.path, ".git", "refs", "dwm", s.run.run_id, "attempts", "review");
      fs.mkdirSync(refs, { recursive: true });
      fs.writeFileSync(path.join(refs, "1.lock"), "0".repeat(40));
      const ref = `refs/dwm/${s.run.run_id}/attempts/review/1`;
      expect(
        verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file, p.repairable]),
      ).toEqual([["ERR_VERIFY_LEFTOVER_REF_LOCK", `${ref}.lock`, true]]);
      open(s).close();
      expect(fs.existsSync(path.join(refs, "1.lock"))).toBe(false);
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });
});

describe("close() after the effect is journaled", () => {
  it("a failure to save state.json is a warning, not the command's failure", () => {
    withRun((s) => {
      const j = open(s);
      j.append("run.stopped", { reason: "interrupted", detail: "test" });
      fs.rmSync(path.join(s.runDir, "state.json"));
      fs.mkdirSync(path.join(s.runDir, "state.json", "x"), { recursive: true });
      expect(() => j.close()).not.toThrow();
      expect(j.warnings).toEqual([
        expect.stringContaining("state.json (a cache of the journal) was not saved"),
      ]);
      expect(readJournal(s.runDir).events.at(-1)?.type).toBe("run.stopped");
      expect(fs.existsSync(path.join(s.runDir, "lock"))).toBe(false);
    });
  });
});

describe("an append the disk refuses part-way", () => {
  it("leaves none of its batch in the journal: a complete line of it would count on the next open", () => {
    withRun((s) => {
      const j = open(s);
      const opened = fs.readFileSync(journalFile(s));
      const real = fs.writeFileSync.bind(fs);
      // A full disk: the first line of the batch is written, the rest refused (ENOSPC).
      const spy = vi.spyOn(fs, "writeFileSync").mockImplementation((file, data, ...rest) => {
        if (typeof file === "number" && String(data).includes('"detail":"first"')) {
          const text = String(data);
          fs.writeSync(file, text.slice(0, text.indexOf("\n") + 1));
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        }
        return real(file, data, ...rest);
      });
      try {
        expect(() =>
          j.appendAll([
            { type: "run.stopped", data: { reason: "interrupted", detail: "first" } },
            { type: "run.stopped", data: { reason: "interrupted", detail: "second" } },
          ]),
        ).toThrow("ENOSPC");
      } finally {
        spy.mockRestore();
      }
      j.close();
      expect(fs.readFileSync(journalFile(s)).equals(opened)).toBe(true);
      const again = open(s);
      again.close();
      expect(readJournal(s.runDir).events.filter((e) => e.type === "run.stopped")).toEqual([]);
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });
});

describe("checkStore: verify with a stat cache of verified files", () => {
  const later = () => Date.now() + 60_000;
  /** The cache lives in the git directory: make the store's folder a repository's. */
  const inRepo = (f: (s: TestRunStore) => void) =>
    withRun((s) => {
      fs.mkdirSync(path.join(s.tmp.path, ".git"));
      f(s);
    });
  const cacheOf = (s: TestRunStore) => verifyCacheFile(s.runDir) as string;

  it("reports what verifyRun reports, and the second check hashes nothing that did not change", () => {
    inRepo((s) => {
      const first = checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      expect(first).toEqual(verifyRun(s.runDir, { trust: TRUST }));
      const cache = JSON.parse(fs.readFileSync(cacheOf(s), "utf8"));
      expect(Object.keys(cache.files)).toContain("attempts/inventory/1/stdout");
      expect(cache.journal.seq).toBe(readJournal(s.runDir).events.length);
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST })).toEqual(
        verifyRun(s.runDir, { trust: TRUST }),
      );
    });
  });

  it("a changed file is hashed again and fails, whatever its mtime says", () => {
    inRepo((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      const rel = path.join(s.runDir, "attempts", "inventory", "1", "stdout");
      const st = fs.statSync(rel);
      const bytes = fs.readFileSync(rel);
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      fs.writeFileSync(rel, bytes);
      fs.utimesSync(rel, st.atime, st.mtime);
      expect(
        checkStore(s.runDir, { nowMs: later(), trust: TRUST }).problems.map((p) => [p.code, p.file]),
      ).toContainEqual(["ERR_VERIFY_FILE_DIGEST", "attempts/inventory/1/stdout"]);
    });
  });

  it("a changed journal prefix is checked again line by line", () => {
    inRepo((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      const text = fs.readFileSync(journalFile(s), "utf8");
      fs.writeFileSync(journalFile(s), text.replace('"backend":"shell"', '"backend":"codex"'));
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST }).problems.map((p) => p.code)).toContain(
        "ERR_VERIFY_EVENT_DIGEST",
      );
    });
  });

  it("skips exactly the files whose stat it recorded; `dwm verify` (verifyRun) never reads it", () => {
    inRepo((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      const rel = "attempts/inventory/1/stdout";
      const file = path.join(s.runDir, rel);
      fs.writeFileSync(file, "X".repeat(fs.statSync(file).size));
      // Re-record the changed file's stat against the old digest, as only a forger of the cache would.
      const cacheFile = cacheOf(s);
      const cache = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
      const st = fs.statSync(file, { bigint: true });
      cache.files[rel] = {
        ...cache.files[rel],
        mtime_ns: String(st.mtimeNs),
        ctime_ns: String(st.ctimeNs),
        ino: String(st.ino),
      };
      fs.writeFileSync(cacheFile, JSON.stringify(cache));
      // The cache skipped hashing it (the packet's signed attestation, checked every time, still tells).
      const digestOf = (r: { problems: { code: string; file: string }[] }) =>
        r.problems.filter((p) => p.code === "ERR_VERIFY_FILE_DIGEST").map((p) => p.file);
      expect(digestOf(checkStore(s.runDir, { nowMs: later(), trust: TRUST }))).toEqual([]);
      expect(digestOf(verifyRun(s.runDir, { trust: TRUST }))).toEqual([rel]);
    });
  });

  it("lives in the git directory, never in the run store; none outside a repository", () => {
    inRepo((s) => {
      checkStore(s.runDir, { nowMs: later(), trust: TRUST });
      expect(path.dirname(cacheOf(s))).toBe(path.join(s.tmp.path, ".git", "dwm", "verify-cache"));
      expect(fs.existsSync(cacheOf(s))).toBe(true);
    });
    withRun((s) => expect(verifyCacheFile(s.runDir)).toBeNull());
  });

  it("a cache that does not read as one is no cache", () => {
    inRepo((s) => {
      fs.mkdirSync(path.dirname(cacheOf(s)), { recursive: true });
      fs.writeFileSync(cacheOf(s), "{not json");
      expect(checkStore(s.runDir, { nowMs: later(), trust: TRUST })).toEqual(
        verifyRun(s.runDir, { trust: TRUST }),
      );
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });
});

describe("journal.head itself changed", () => {
  it("any byte of journal.head changed is a problem naming journal.head", () => {
    withRun((s) => {
      const file = path.join(s.runDir, HEAD_FILE);
      const orig = fs.readFileSync(file);
      for (let i = 0; i < orig.length - 1; i++) {
        for (const x of [1, 2, 16]) {
          const bad = Buffer.from(orig);
          bad[i] = (bad[i] ?? 0) ^ x;
          fs.writeFileSync(file, bad);
          const r = verifyRun(s.runDir, { trust: TRUST });
          expect(r.ok, `byte ${i} ^ ${x}`).toBe(false);
          expect(
            r.problems.some((p) => p.file === HEAD_FILE),
            `byte ${i} ^ ${x}: ${JSON.stringify(r.problems)}`,
          ).toBe(true);
        }
      }
      fs.writeFileSync(file, orig);
      expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
    });
  });
});

describe("runLockHeld", () => {
  it("an empty lock file is held while younger than the lease, then not", () => {
    withRun((s) => {
      const lock = path.join(s.runDir, "lock");
      fs.writeFileSync(lock, "");
      const now = new Date().toISOString();
      expect(runLockHeld(lock, now, "h")).toBe(true);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(lock, old, old);
      expect(runLockHeld(lock, now, "h")).toBe(false);
    });
  });
});
