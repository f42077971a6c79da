import type { Digest } from "@dwm/core";
import type { JournalEvent } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { placeProblems } from "./events.js";

const D = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;

const opened = (prev: Digest, seq = 1) =>
  ({
    seq,
    prev,
    type: "run.opened",
    at: "2026-01-01T00:00:00.000Z",
    data: { run_digest: D(1), plan_digest: D(2), revision: 1, packets: [], gates: [] },
    digest: D(10),
  }) as JournalEvent;
const lease = (seq: number, prev: Digest) =>
  ({
    seq,
    prev,
    type: "lease.taken",
    at: "2026-01-01T00:00:00.000Z",
    data: { pid: 1, host: "h" },
    digest: D(11),
  }) as JournalEvent;

describe("placeProblems: is an event where the chain says it belongs", () => {
  it("the first line is run.opened linking to the run.json digest it records", () => {
    expect(placeProblems(opened(D(1)), 1, null)).toEqual([]);
    expect(placeProblems(opened(D(9)), 1, null)).toEqual([
      {
        code: "ERR_VERIFY_CHAIN",
        file: "journal.jsonl",
        message: "the first event does not link to the run.json digest it records",
        repairable: false,
        seq: 1,
        expected: D(1),
        actual: D(9),
      },
    ]);
    expect(placeProblems(lease(1, D(1)), 1, null).map((p) => [p.code, p.message])).toEqual([
      ["ERR_VERIFY_CHAIN", "the first event is lease.taken, not run.opened"],
    ]);
  });

  it("a later line links to the line before, unless that line was unreadable", () => {
    expect(placeProblems(lease(2, D(10)), 2, D(10))).toEqual([]);
    expect(placeProblems(lease(2, D(12)), 2, null)).toEqual([]);
    expect(placeProblems(lease(2, D(12)), 2, D(10)).map((p) => [p.code, p.expected, p.actual])).toEqual([
      ["ERR_VERIFY_CHAIN", D(10), D(12)],
    ]);
  });

  it("an event's seq is its line number; a wrong seq and a broken link are both reported, seq first", () => {
    expect(placeProblems(lease(3, D(12)), 2, D(10)).map((p) => [p.code, p.message])).toEqual([
      ["ERR_VERIFY_SEQ", "journal line 2 carries seq 3"],
      ["ERR_VERIFY_CHAIN", "event 2 does not link to event 1"],
    ]);
  });
});
