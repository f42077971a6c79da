// The deciding steps of verifyRun, each alone: how a file problem is coded, which files
// the journal names, whether run.json is the recorded one, and what is a stray file.
import fs from "node:fs";
import type { ArtifactProblem } from "@dwm/core";
import type { JournalEvent } from "@dwm/schemas";
import { FakeClock } from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanJournal } from "./events.js";
import { openJournal } from "./journal.js";
import { completePacket } from "./test-support/drive.js";
import { makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import {
  filesNamedByJournal,
  foldProblem,
  journalIntact,
  runDigestProblem,
  strayFileProblems,
  verifyProblemOf,
} from "./verify.js";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

const ev = (seq: number, type: string, data: Record<string, unknown>) =>
  ({ seq, type, data, prev: D1, at: "2026-01-01T00:00:00.000Z", digest: D2 }) as unknown as JournalEvent;

describe("verifyProblemOf: the verify code of each artifact problem", () => {
  const p = (kind: ArtifactProblem["kind"], detail: ArtifactProblem["detail"] = {}): ArtifactProblem => ({
    kind,
    file: "packets/a.json",
    message: `packets/a.json: ${kind}`,
    detail,
  });

  it("codes every kind, keeping the message core wrote", () => {
    const codes = (
      [
        "missing",
        "symlink",
        "unsafe-path",
        "not-a-file",
        "unreadable",
        "not-json",
        "wrong-kind",
        "schema",
        "not-plain-json",
        "not-canonical",
      ] as const
    ).map((k) => [k, verifyProblemOf(p(k)).code, verifyProblemOf(p(k)).message]);
    expect(codes).toEqual([
      ["missing", "ERR_VERIFY_FILE_MISSING", "packets/a.json: missing"],
      ["symlink", "ERR_VERIFY_SYMLINK", "packets/a.json: symlink"],
      ["unsafe-path", "ERR_VERIFY_FILE_MISSING", "packets/a.json: unsafe-path"],
      ["not-a-file", "ERR_VERIFY_FILE_MISSING", "packets/a.json: not-a-file"],
      ["unreadable", "ERR_VERIFY_FILE_MISSING", "packets/a.json: unreadable"],
      ["not-json", "ERR_VERIFY_FILE_PARSE", "packets/a.json: not-json"],
      ["wrong-kind", "ERR_VERIFY_FILE_SCHEMA", "packets/a.json: wrong-kind"],
      ["schema", "ERR_VERIFY_FILE_SCHEMA", "packets/a.json: schema"],
      ["not-plain-json", "ERR_VERIFY_FILE_PARSE", "packets/a.json: not-plain-json"],
      ["not-canonical", "ERR_VERIFY_FILE_NOT_CANONICAL", "packets/a.json: not-canonical"],
    ]);
  });

  it("a digest problem carries both digests and the event that named the file", () => {
    expect(verifyProblemOf(p("digest", { expected: D1, actual: D2 }), 7)).toEqual({
      code: "ERR_VERIFY_FILE_DIGEST",
      file: "packets/a.json",
      message: "packets/a.json does not match the digest recorded for it",
      repairable: false,
      expected: D1,
      actual: D2,
      seq: 7,
    });
    expect(verifyProblemOf(p("missing"), 3)).toMatchObject({ code: "ERR_VERIFY_FILE_MISSING", seq: 3 });
  });
});

describe("filesNamedByJournal", () => {
  it("lists every named file with its event; a later naming of a path wins", () => {
    const named = filesNamedByJournal([
      ev(2, "attempt.recorded", {
        files: [
          { path: "a/stdout", digest: D1 },
          { path: "a/x.json", digest: D1 },
        ],
      }),
      ev(3, "packet.completed", {}),
      ev(4, "attempt.recorded", { files: [{ path: "a/stdout", digest: D2 }, { path: 5 }] }),
    ]);
    expect([...named]).toEqual([
      ["a/stdout", { digest: D2, seq: 4 }],
      ["a/x.json", { digest: D1, seq: 2 }],
    ]);
  });
});

describe("runDigestProblem", () => {
  it("run.json must be the one the latest run.opened or run.recompiled recorded", () => {
    const opened = ev(1, "run.opened", { run_digest: D1 });
    expect(runDigestProblem(D1, [opened])).toBeNull();
    expect(runDigestProblem(D2, [])).toBeNull();
    expect(runDigestProblem(D1, [opened, ev(9, "run.recompiled", { run_digest: D2 })])).toEqual({
      code: "ERR_VERIFY_RUN_DIGEST",
      file: "run.json",
      message: "run.json is not the run.json the journal last recorded (event 9)",
      repairable: false,
      expected: D2,
      actual: D1,
      seq: 9,
    });
  });
});

describe("strayFileProblems", () => {
  it("a symlink anywhere, and any file nothing names except the store's own files", () => {
    const expected = new Map([["packets/a.json", { digest: D1 }]]);
    const entries = [
      { path: "journal.jsonl", symlink: false },
      { path: "lock", symlink: false },
      { path: "packets/a.json", symlink: false },
      { path: "packets/b.json", symlink: false },
      { path: "handoffs/x", symlink: true },
      { path: "packets/a.json", symlink: true },
    ];
    expect(strayFileProblems(entries, expected).map((p) => [p.code, p.file, p.message])).toEqual([
      [
        "ERR_VERIFY_UNEXPECTED_FILE",
        "packets/b.json",
        "packets/b.json is not named by run.json or the journal",
      ],
      ["ERR_VERIFY_SYMLINK", "handoffs/x", "handoffs/x is a symbolic link"],
      ["ERR_VERIFY_SYMLINK", "packets/a.json", "packets/a.json is a symbolic link"],
    ]);
  });
});

describe("journal history", () => {
  let s: TestRunStore;
  let events: JournalEvent[];
  beforeAll(() => {
    s = makeRunStore();
    const j = openJournal(s.runDir, {
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1000),
      pid: 1,
      host: "h",
    });
    completePacket(j, s, "inventory");
    j.close();
    events = scanJournal(fs.readFileSync(`${s.runDir}/journal.jsonl`)).events;
  });
  afterAll(() => s.cleanup());

  it("a real history folds; one that completes a packet twice does not, and names the event", () => {
    expect(foldProblem(events, s.run)).toBeNull();
    const completed = events.find((e) => e.type === "packet.completed") as JournalEvent;
    const twice = [...events, { ...completed, seq: events.length + 1 }];
    const p = foldProblem(twice, s.run);
    expect(p).toMatchObject({ code: "ERR_VERIFY_STATE", file: "journal.jsonl", repairable: false });
    expect(p?.seq).toBe(events.length + 1);
  });

  it("a journal is intact when every line became an event and only a torn tail is wrong", () => {
    const buf = fs.readFileSync(`${s.runDir}/journal.jsonl`);
    expect(journalIntact(scanJournal(buf))).toBe(true);
    expect(journalIntact(scanJournal(Buffer.concat([buf, Buffer.from('{"seq":')])))).toBe(true);
    expect(journalIntact(scanJournal(Buffer.concat([buf, Buffer.from("not json\n")])))).toBe(false);
  });
});
