// dwm status's deciding steps alone: a packet's shown state and what holds it, and the next action.
import type { StatusPacketRow } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { packet, runState, verifyReport } from "../test-support/states.js";
import { nextAction, packetRows, shownState } from "./status.js";

describe("shownState", () => {
  it("a pending packet is ready only when no gate and no dependency holds it", () => {
    expect(shownState("pending", [], [])).toBe("ready");
    expect(shownState("pending", ["g"], [])).toBe("blocked");
    expect(shownState("pending", [], ["a"])).toBe("blocked");
    expect(shownState("failed", [], [])).toBe("failed");
  });
});

describe("packetRows", () => {
  const state = runState({
    packets: {
      a: packet("completed", { attempts: 1, last_verdict: "approved" }),
      t: packet("expanded"),
      "t/1": packet("completed"),
      "t/2": packet("failed"),
      b: packet("pending"),
      c: packet("pending"),
    },
    gates: {
      g: {
        state: "approved",
        gate_digest: null,
        packets: ["c"],
        reason: null,
        approval_digest: null,
        seq: 1,
      },
      h: { state: "open", gate_digest: null, packets: ["c"], reason: null, approval_digest: null, seq: 1 },
    },
  });
  const deps = new Map([
    ["b", ["a", "t"]],
    ["c", ["a"]],
  ]);
  const gateInfo = new Map([
    ["g", { category: "write", packets: ["c"] }],
    ["h", { category: null, packets: ["c"] }],
  ]);

  it("an expanded template is done only when every item is completed; approved gates hold nothing", () => {
    const rows = packetRows(state, deps, new Map([["t", ["t/1", "t/2"]]]), gateInfo);
    const by = Object.fromEntries(rows.map((r) => [r.packet_id, [r.state, r.gates, r.waiting_on]]));
    expect(by).toEqual({
      a: ["completed", [], []],
      t: ["expanded", [], []],
      "t/1": ["completed", [], []],
      "t/2": ["failed", [], []],
      b: ["blocked", [], ["t"]],
      c: ["blocked", ["h"], []],
    });
    expect(rows[0]).toEqual({
      packet_id: "a",
      state: "completed",
      attempts: 1,
      last_verdict: "approved",
      last_outcome: null,
      gates: [],
      waiting_on: [],
    });
  });

  it("once every item completed, the template no longer holds its dependents", () => {
    const done = runState({ ...state, packets: { ...state.packets, "t/2": packet("completed") } });
    const rows = packetRows(done, deps, new Map([["t", ["t/1", "t/2"]]]), new Map());
    expect(rows.find((r) => r.packet_id === "b")?.state).toBe("ready");
  });
});

const row = (packet_id: string, state: StatusPacketRow["state"], gates: string[] = []): StatusPacketRow => ({
  packet_id,
  state,
  attempts: 0,
  last_verdict: null,
  last_outcome: null,
  gates,
  waiting_on: [],
});

describe("nextAction", () => {
  const torn = { code: "ERR_JOURNAL_TORN", file: "journal.jsonl", message: "torn", repairable: true };
  const broken = { code: "ERR_DIGEST", file: "run.json", message: "changed", repairable: false };

  it("a torn last line is resumed; any other integrity problem is repaired first", () => {
    expect(nextAction("r", verifyReport([torn]), runState(), [], [])).toMatchObject({
      kind: "resume",
      command: "dwm run r",
    });
    expect(nextAction("r", verifyReport([torn, broken]), runState({ completed: true }), [], ["g"])).toEqual({
      kind: "repair-integrity",
      summary: "The run store failed verification (2 problem(s)); nothing should run until it is restored.",
      command: "dwm verify r",
    });
  });

  it("then: complete, a waiting gate, the budget, in that order", () => {
    const ok = verifyReport();
    expect(nextAction("r", ok, runState({ completed: true }), [], ["g"]).kind).toBe("complete");
    expect(nextAction("r", ok, runState(), [row("a", "blocked", ["g"])], ["g"])).toEqual({
      kind: "approve",
      summary: "Gate g waits for a decision (it holds a): approve it, or reject it with a reason.",
      command: "dwm approve r g",
    });
    const budget = runState({ stopped: { reason: "budget", detail: "3 attempts", seq: 4 } });
    expect(nextAction("r", ok, budget, [], [])).toEqual({
      kind: "budget",
      summary: "The run stopped: budget exhausted (3 attempts).",
      command: null,
    });
  });

  it("a failure is inspected only when nothing else moves", () => {
    const ok = verifyReport();
    const state = runState({ packets: { a: packet("failed", { reason: "checks failed" }) } });
    expect(nextAction("r", ok, state, [row("a", "failed")], [])).toEqual({
      kind: "inspect-failed",
      summary: "Packet a failed: checks failed. Inspect its evidence, fix the plan and compile it again.",
      command: "dwm show r a",
    });
    expect(nextAction("r", ok, state, [row("a", "failed"), row("b", "ready")], []).kind).toBe("run");
  });

  it("run: ready packets, else packets left in flight, else gates to open", () => {
    const ok = verifyReport();
    expect(nextAction("r", ok, runState(), [row("a", "ready"), row("b", "ready")], []).summary).toBe(
      "2 packet(s) ready (a, b); run the workflow to go on.",
    );
    expect(nextAction("r", ok, runState(), [row("a", "dispatched")], []).summary).toBe(
      "1 packet(s) were in flight when the last runner stopped; run the workflow to resume them.",
    );
    expect(nextAction("r", ok, runState(), [row("a", "blocked")], [])).toEqual({
      kind: "run",
      summary: "No packet is ready; running the workflow opens the gates that hold the next packets.",
      command: "dwm run r",
    });
  });
});
