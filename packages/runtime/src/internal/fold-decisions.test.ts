import type { Digest } from "@dwm/core";
import type { JournalEvent, PacketState, RunState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import type { EventOf } from "../events.js";
import { applyEvent } from "../fold.js";
import { D, stateWith } from "../test-support/runs.js";
import { newGate, newPacket } from "./fold-base.js";
import { droppedItems, itemChange } from "./fold-fanout.js";
import { completionBasis } from "./fold-packets.js";
import { checkGateDecision, fanoutsLeaving, unfinishedPackets } from "./fold-run.js";

const stateOf = (packets: Record<string, Partial<PacketState>>): RunState => stateWith(packets);

const caught = (f: () => void): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
};

describe("completionBasis: what lets packet.completed through", () => {
  it("an approved review of exactly that attempt", () => {
    const s = stateOf({ a: { state: "reviewed", last_verdict: "approved", attempts: 2 } });
    const a = s.packets.a as PacketState;
    expect(completionBasis(s, "a", a, 2)).toBe("review");
    expect(completionBasis(s, "a", a, 1)).toBeNull();
    expect(completionBasis(s, "a", { ...a, last_verdict: "changes-requested" }, 2)).toBeNull();
  });

  it("an approved gate holding the packet, for attempt 0 or its last attempt, never in flight", () => {
    const s = stateOf({ hg: { state: "pending" }, nh: { state: "needs-human", attempts: 1 } });
    expect(completionBasis(s, "hg", s.packets.hg as PacketState, 0)).toBeNull();
    s.gates.h = { ...newGate(), state: "open", packets: ["hg", "nh"] };
    expect(completionBasis(s, "hg", s.packets.hg as PacketState, 0)).toBeNull();
    s.gates.h = { ...newGate(), state: "approved", packets: ["hg", "nh"] };
    expect(completionBasis(s, "hg", s.packets.hg as PacketState, 0)).toBe("gate");
    expect(completionBasis(s, "nh", s.packets.nh as PacketState, 1)).toBe("gate");
    expect(completionBasis(s, "nh", s.packets.nh as PacketState, 0)).toBe("gate");
    expect(completionBasis(s, "nh", s.packets.nh as PacketState, 2)).toBeNull();
    expect(completionBasis(s, "nh", { ...(s.packets.nh as PacketState), state: "attempted" }, 1)).toBeNull();
    expect(completionBasis(s, "other", newPacket(), 0)).toBeNull();
  });
});

describe("checkGateDecision: which decisions the fold accepts", () => {
  const decision = (gate_digest: Digest, type: "gate.approved" | "gate.rejected" = "gate.approved") =>
    ({
      seq: 7,
      type,
      data: { gate_id: "g", gate_digest, approval_digest: D(9), files: [] },
    }) as unknown as EventOf<"gate.approved">;

  it("accepts a closed gate (pre-approval) and an open gate with the digest it was opened as", () => {
    expect(caught(() => checkGateDecision(decision(D(5)), newGate()))).toBeNull();
    const open = { ...newGate(), state: "open" as const, gate_digest: D(5) };
    expect(caught(() => checkGateDecision(decision(D(5), "gate.rejected"), open))).toBeNull();
  });

  it("refuses another digest and a gate already decided", () => {
    const open = { ...newGate(), state: "open" as const, gate_digest: D(5) };
    expect(caught(() => checkGateDecision(decision(D(6)), open))).toMatchObject({
      code: "ERR_JOURNAL_TRANSITION",
      message: `event 7 (gate.approved): the decision is for gate digest ${D(6)}, the gate was opened as ${D(5)}`,
      details: { seq: 7, type: "gate.approved", gate_id: "g" },
    });
    for (const state of ["approved", "rejected"] as const) {
      expect(caught(() => checkGateDecision(decision(D(5)), { ...open, state }))).toMatchObject({
        code: "ERR_JOURNAL_TRANSITION",
        message: `event 7 (gate.approved): gate g is already ${state}`,
      });
    }
  });
});

describe("fan-out decisions", () => {
  it("itemChange: add a new item packet, reset a changed one, keep an unchanged one", () => {
    const p = newPacket("t");
    expect(itemChange(undefined, undefined, { digest: D(1) })).toBe("add");
    expect(itemChange(undefined, { digest: D(1) }, { digest: D(1) })).toBe("add");
    expect(itemChange(p, { digest: D(1) }, { digest: D(2) })).toBe("reset");
    expect(itemChange({ ...p, state: "completed" }, { digest: D(1) }, { digest: D(1) })).toBe("keep");
    expect(itemChange(p, undefined, { digest: D(1) })).toBe("keep");
  });

  it("droppedItems: the previous items not listed again, in their previous order", () => {
    const before = new Map([
      ["t/c", { digest: D(1) }],
      ["t/a", { digest: D(1) }],
      ["t/b", { digest: D(1) }],
    ]);
    expect(droppedItems(before, [{ packet_id: "t/a" }, { packet_id: "t/new" }])).toEqual(["t/c", "t/b"]);
    expect(
      droppedItems(
        before,
        [...before.keys()].map((packet_id) => ({ packet_id })),
      ),
    ).toEqual([]);
    expect(droppedItems(new Map(), [{ packet_id: "t/a" }])).toEqual([]);
  });

  it("fanoutsLeaving: a recompile removing any per-item phase takes that fan-out out", () => {
    const s = stateOf({});
    const f = { source_packet: "src", handoff_digest: D(3), items: 0, packets: [], dropped: [], seq: 1 };
    s.fanouts = { t1: { ...f, templates: ["t1", "t2"] }, u1: { ...f, templates: ["u1"] } };
    expect(fanoutsLeaving(s, ["t2"])).toEqual(["t1"]);
    expect(fanoutsLeaving(s, ["u1", "t1"])).toEqual(["t1", "u1"]);
    expect(fanoutsLeaving(s, ["src"])).toEqual([]);
    expect(fanoutsLeaving(stateOf({}), ["t1"])).toEqual([]);
  });
});

it("unfinishedPackets: everything but completed packets and expanded templates, in state order", () => {
  const s = stateOf({
    a: { state: "completed" },
    t: { state: "expanded" },
    b: { state: "failed" },
    c: { state: "needs-human" },
  });
  expect(unfinishedPackets(s)).toEqual(["b", "c"]);
  (s.packets.b as PacketState).state = "completed";
  (s.packets.c as PacketState).state = "completed";
  expect(unfinishedPackets(s)).toEqual([]);
});

it("an event type without a handler is refused, even one Object.prototype knows", () => {
  const s = stateOf({});
  for (const type of ["bogus", "constructor", "toString"]) {
    const ev = { seq: 1, prev: D(1), type, at: "2026-01-01T00:00:00.000Z", data: {}, digest: D(2) };
    expect(caught(() => applyEvent(s, ev as unknown as JournalEvent))).toMatchObject({
      code: "ERR_JOURNAL_TRANSITION",
      message: `event 1 (${type}): unknown event type`,
    });
  }
  expect(s.seq).toBe(0);
});
