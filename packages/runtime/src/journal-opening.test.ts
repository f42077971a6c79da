import { describe, expect, it } from "vitest";
import { openingEvents } from "./journal.js";
import { D, packetEntries, testRun } from "./test-support/runs.js";

const run = {
  ...testRun({ packets: packetEntries(["a", "b"]), gates: [{ gate_id: "g", digest: D(30) }] }),
  revision: 3,
};

const base = { run, runDigest: D(99), fresh: false, torn: null, tookOver: null, pid: 42, host: "box" };

describe("openingEvents: what opening a journal records", () => {
  it("a new journal: run.opened with run.json's packets and gates, then lease.taken", () => {
    expect(openingEvents({ ...base, fresh: true })).toEqual([
      {
        type: "run.opened",
        data: { run_digest: D(99), plan_digest: D(1), revision: 3, packets: ["a", "b"], gates: ["g"] },
      },
      { type: "lease.taken", data: { pid: 42, host: "box" } },
    ]);
  });

  it("a resumed journal: only the lease", () => {
    expect(openingEvents(base)).toEqual([{ type: "lease.taken", data: { pid: 42, host: "box" } }]);
  });

  it("a repaired tail and a taken-over lease are both recorded, the truncation first", () => {
    const torn = { offset: 120, bytes: 7, digest: D(5) };
    const dead = {
      pid: 7,
      host: "old",
      token: "t",
      acquired_at: "2026-01-01T00:00:00.000Z",
      expires_at: "2026-01-01T00:00:30.000Z",
      purpose: "run",
    };
    expect(openingEvents({ ...base, torn, tookOver: dead })).toEqual([
      { type: "journal.truncated", data: { offset: 120, bytes: 7, tail_digest: D(5) } },
      {
        type: "lease.taken-over",
        data: {
          pid: 42,
          host: "box",
          previous: { pid: 7, host: "old", expires_at: "2026-01-01T00:00:30.000Z" },
        },
      },
    ]);
  });
});
