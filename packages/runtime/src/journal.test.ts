import fs from "node:fs";
import path from "node:path";
import { canonicalJson, type DwmError, digest, digestBytes } from "@dwm/core";
import type { JournalEvent } from "@dwm/schemas";
import { FakeClock } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { foldJournal } from "./fold.js";
import { openJournal, readJournal } from "./journal.js";
import { applyRecompile } from "./recompile.js";
import { completePacket } from "./test-support/drive.js";
import { changePacket, makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import { attestRun, TRUST } from "./test-support/sign.js";
import { verifyRun } from "./verify.js";

const stores: TestRunStore[] = [];
function store(...args: Parameters<typeof makeRunStore>): TestRunStore {
  const s = makeRunStore(...args);
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.cleanup();
});

const me = { pid: 4242, host: "test-host" };
function open(s: TestRunStore, clock = new FakeClock(), extra = {}) {
  return openJournal(s.runDir, { clock, ...me, isAlive: () => true, ...extra });
}
function journalBytes(s: TestRunStore): Buffer {
  return fs.readFileSync(path.join(s.runDir, "journal.jsonl"));
}
function caught(f: () => unknown): DwmError {
  try {
    f();
  } catch (e) {
    return e as DwmError;
  }
  throw new Error("expected an error");
}

describe("openJournal", () => {
  it("starts the chain at run.json's digest with run.opened, then lease.taken", () => {
    const s = store();
    const j = open(s);
    j.close();
    const { events, torn } = readJournal(s.runDir);
    expect(torn).toBeNull();
    expect(events.map((e) => e.type)).toEqual(["run.opened", "lease.taken"]);
    const [first, second] = events as [JournalEvent, JournalEvent];
    expect(first.seq).toBe(1);
    expect(first.prev).toBe(digest(s.run));
    expect(first.at).toBe("2026-01-01T00:00:00.000Z");
    expect(first.data).toEqual({
      run_digest: digest(s.run),
      plan_digest: s.run.plan_digest,
      revision: 1,
      packets: ["inventory", "implement", "review"],
      gates: ["write-gate"],
    });
    expect(second.prev).toBe(first.digest);
    expect(second.data).toEqual({ pid: 4242, host: "test-host" });
    // Each line is the canonical JSON of its event; the digest covers all but itself.
    const lines = journalBytes(s).toString("utf8").split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(canonicalJson(first));
    const { digest: d, ...body } = first;
    expect(d).toBe(digestBytes(canonicalJson(body)));
  });

  it("writes state.json as a cache of the fold", () => {
    const s = store();
    const j = open(s);
    completePacket(j, s, "inventory");
    j.close();
    const cached = JSON.parse(fs.readFileSync(path.join(s.runDir, "state.json"), "utf8"));
    const { events } = readJournal(s.runDir);
    expect(cached).toEqual(foldJournal(events, s.run));
    expect(cached.packets.inventory.state).toBe("completed");
    expect(cached.seq).toBe(7);
  });

  it("refuses a second runner with ERR_RUN_LOCKED naming the holder", () => {
    const s = store();
    const j = open(s);
    const e = caught(() =>
      openJournal(s.runDir, { clock: new FakeClock(), pid: 999, host: "other", isAlive: () => true }),
    );
    expect(e.code).toBe("ERR_RUN_LOCKED");
    expect(e.details).toMatchObject({ pid: 4242, host: "test-host" });
    expect(e.message).toContain("4242");
    j.close();
    const again = openJournal(s.runDir, {
      clock: new FakeClock(),
      pid: 999,
      host: "other",
      isAlive: () => true,
    });
    expect(again.state.lease).toEqual({ pid: 999, host: "other", taken_over: false, seq: 3 });
    again.close();
  });

  it("takes over the expired lease of a dead runner and records it", () => {
    const s = store();
    const clock = new FakeClock();
    open(s, clock, { leaseMs: 1000 }); // never closed: the runner "crashed"
    clock.advance(5000);
    const j = openJournal(s.runDir, { clock, pid: 7, host: "test-host", isAlive: (pid) => pid !== 4242 });
    const last = readJournal(s.runDir).events.at(-1);
    expect(last?.type).toBe("lease.taken-over");
    expect(last?.data).toEqual({
      pid: 7,
      host: "test-host",
      previous: { pid: 4242, host: "test-host", expires_at: "2026-01-01T00:00:01.000Z" },
    });
    expect(j.state.lease?.taken_over).toBe(true);
    j.close();
  });

  it("renews the lease when half of it has passed", () => {
    const s = store();
    const clock = new FakeClock();
    const j = open(s, clock, { leaseMs: 1000 });
    const lockFile = path.join(s.runDir, "lock");
    expect(JSON.parse(fs.readFileSync(lockFile, "utf8")).expires_at).toBe("2026-01-01T00:00:01.000Z");
    clock.advance(600);
    j.append("run.stopped", { reason: "interrupted" });
    expect(JSON.parse(fs.readFileSync(lockFile, "utf8")).expires_at).toBe("2026-01-01T00:00:01.600Z");
    j.close();
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it("repairs a torn last line by truncating it, and only it", () => {
    const s = store();
    const j = open(s);
    completePacket(j, s, "inventory");
    j.close();
    const intact = journalBytes(s);
    const partial = '{"at":"2026-01-01T00:00:00.000Z","data":{"pack';
    fs.appendFileSync(path.join(s.runDir, "journal.jsonl"), partial);
    const r = readJournal(s.runDir);
    // completePacket's five events and its attestation, after run.opened and lease.taken.
    expect(r.events).toHaveLength(7);
    expect(r.torn).toEqual({ offset: intact.length, bytes: partial.length, digest: digestBytes(partial) });
    const report = verifyRun(s.runDir, { trust: TRUST });
    expect(report.problems.map((p) => [p.code, p.repairable])).toEqual([["ERR_VERIFY_TORN_TAIL", true]]);

    const j2 = open(s);
    expect(j2.repaired?.offset).toBe(intact.length);
    j2.close();
    const after = journalBytes(s);
    expect(after.subarray(0, intact.length).equals(intact)).toBe(true);
    const events = readJournal(s.runDir).events;
    expect(events.slice(7).map((e) => e.type)).toEqual(["journal.truncated", "lease.taken"]);
    expect(events[7]?.data).toEqual({
      offset: intact.length,
      bytes: partial.length,
      tail_digest: digestBytes(partial),
    });
    expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
  });

  it("never repairs a complete line that fails its digest, and releases the lock", () => {
    const s = store();
    const j = open(s);
    completePacket(j, s, "inventory");
    j.close();
    const file = path.join(s.runDir, "journal.jsonl");
    const text = fs.readFileSync(file, "utf8");
    const tampered = text.replace('"outcome":"ok"', '"outcome":"timeout"');
    expect(tampered).not.toBe(text);
    fs.writeFileSync(file, tampered);
    const e = caught(() => open(s));
    expect(e.code).toBe("ERR_VERIFY_EVENT_DIGEST");
    expect(e.exitCode).toBe(3);
    expect(e.details).toMatchObject({ seq: 4 });
    expect(fs.readFileSync(file, "utf8")).toBe(tampered);
    expect(fs.existsSync(path.join(s.runDir, "lock"))).toBe(false);
    expect(caught(() => readJournal(s.runDir)).code).toBe("ERR_VERIFY_EVENT_DIGEST");
  });

  it("refuses a run.json the journal did not record, unless recompiling", () => {
    const s = store();
    open(s).close();
    changePacket(s, "implement", "Implement it differently.");
    expect(caught(() => open(s)).code).toBe("ERR_VERIFY_RUN_DIGEST");
    const j = open(s, new FakeClock(), { recompile: true });
    applyRecompile(j, { added: [], changed: ["implement"], removed: [], downstream: ["review"] });
    j.close();
    expect(open(s).state.run_digest).toBe(digest(s.run));
  });
});

describe("append", () => {
  it("validates the event and writes nothing when it is invalid", () => {
    const s = store();
    const j = open(s);
    const before = journalBytes(s);
    const e = caught(() => j.append("packet.failed", { packet_id: "inventory" } as never));
    expect(e.code).toBe("ERR_JOURNAL_EVENT_INVALID");
    expect(journalBytes(s).equals(before)).toBe(true);
    j.close();
  });

  it("refuses an illegal transition and leaves journal and state unchanged", () => {
    const s = store();
    const j = open(s);
    const before = journalBytes(s);
    const state = structuredClone(j.state);
    const e = caught(() => j.append("packet.completed", { packet_id: "inventory", attempt: 1 }));
    expect(e.code).toBe("ERR_JOURNAL_TRANSITION");
    expect(journalBytes(s).equals(before)).toBe(true);
    expect(j.state).toEqual(state);
    j.close();
  });

  it("appends a batch all or nothing", () => {
    const s = store();
    const j = open(s);
    const before = journalBytes(s);
    const state = structuredClone(j.state);
    const d = `sha256:${"1".repeat(64)}` as const;
    const e = caught(() =>
      j.appendAll([
        {
          type: "packet.dispatched",
          data: { packet_id: "inventory", attempt: 1, packet_digest: d, base_commit: null },
        },
        {
          type: "packet.dispatched",
          data: { packet_id: "inventory", attempt: 2, packet_digest: d, base_commit: null },
        },
      ]),
    );
    expect(e.code).toBe("ERR_JOURNAL_TRANSITION");
    expect(journalBytes(s).equals(before)).toBe(true);
    expect(j.state).toEqual(state);
    // The second event fails its schema after the first one changed the state: undone as well.
    const bad = caught(() =>
      j.appendAll([
        {
          type: "packet.dispatched",
          data: { packet_id: "inventory", attempt: 1, packet_digest: d, base_commit: null },
        },
        { type: "packet.abandoned", data: { packet_id: "inventory", attempt: 1 } } as never,
      ]),
    );
    expect(bad.code).toBe("ERR_JOURNAL_EVENT_INVALID");
    expect(journalBytes(s).equals(before)).toBe(true);
    expect(j.state).toEqual(state);
    const ok = j.appendAll([
      {
        type: "packet.dispatched",
        data: { packet_id: "inventory", attempt: 1, packet_digest: d, base_commit: null },
      },
      { type: "packet.abandoned", data: { packet_id: "inventory", attempt: 1, reason: "runner died" } },
    ]);
    expect(ok.map((x) => x.seq)).toEqual([3, 4]);
    expect(ok[1]?.prev).toBe(ok[0]?.digest);
    expect(j.state.packets.inventory?.state).toBe("abandoned");
    j.close();
    expect(() => j.append("run.stopped", { reason: "interrupted" })).toThrow(/closed/);
  });
});

describe("applyRecompile", () => {
  it("keeps unchanged completed packets, reopens changed ones and their downstream", () => {
    const s = store();
    const j = open(s);
    completePacket(j, s, "inventory");
    j.append("gate.approved", {
      gate_id: "write-gate",
      gate_digest: s.run.gates[0]?.digest ?? "",
      approval_digest: `sha256:${"2".repeat(64)}`,
      files: [],
    } as never);
    completePacket(j, s, "implement");
    completePacket(j, s, "review");
    attestRun(j, s);
    j.append("run.completed", {});
    j.close();

    changePacket(s, "implement", "Implement it with less code.");
    const j2 = open(s, new FakeClock(), { recompile: true });
    const events = applyRecompile(j2, {
      added: [],
      changed: ["implement"],
      removed: [],
      downstream: ["review"],
    });
    expect(events.map((e) => [e.type, (e.data as { packet_id?: string }).packet_id])).toEqual([
      ["run.recompiled", undefined],
      ["packet.reopened", "implement"],
      ["packet.reopened", "review"],
      // write-gate permitted implement as it was compiled; implement changed, so it is asked again.
      ["gate.reopened", undefined],
    ]);
    expect(events[3]?.data).toMatchObject({ gate_id: "write-gate", packets: ["implement"] });
    expect(j2.state.gates["write-gate"]).toMatchObject({ state: "closed", approval_digest: null });
    expect(j2.state.gates["write-gate"]?.gate_digest).not.toBe(s.run.gates[0]?.digest);
    expect(j2.state.packets.inventory?.state).toBe("completed");
    expect(j2.state.packets.implement?.state).toBe("pending");
    expect(j2.state.packets.review?.state).toBe("pending");
    expect(j2.state.completed).toBe(false);
    expect(j2.state.revision).toBe(2);
    expect(applyRecompile(j2, { added: [], changed: [], removed: [], downstream: [] })).toEqual([]);
    j2.close();
    expect(verifyRun(s.runDir, { trust: TRUST }).problems).toEqual([]);
  });

  it("adds and removes packets, and refuses a report that does not match run.json", () => {
    const s = store();
    open(s).close();
    s.rewriteRun((run) => {
      run.revision = 2;
      run.packets = run.packets.filter((p) => p.packet_id !== "review");
    });
    const j = open(s, new FakeClock(), { recompile: true });
    const e = caught(() => applyRecompile(j, { added: ["extra"], changed: [], removed: [], downstream: [] }));
    expect(e.code).toBe("ERR_RUNTIME_RECOMPILE_MISMATCH");
    expect(e.details).toEqual({ missing: [], extra: ["review", "extra"] });
    applyRecompile(j, { added: [], changed: [], removed: ["review"], downstream: [] });
    expect(Object.keys(j.state.packets)).toEqual(["inventory", "implement"]);
    j.close();
  });
});
