import { afterEach, describe, expect, it } from "vitest";
import { type ExampleContext, exampleContext } from "../test-support/builders.js";
import { ApprovalDesk } from "./approval-desk.js";
import { expansionNote, frontierStep, oneAskPerGate } from "./frontier-step.js";

describe("expansionNote", () => {
  it("an expansion says how many items and packets; a failure or wait says why; a limit gate says nothing (its event does)", () => {
    expect(expansionNote("measure", { kind: "expanded", items: 6, added: 12, dropped: 0 })).toBe(
      "fan-out measure: 6 items, 12 new or changed item packets, 0 dropped",
    );
    expect(expansionNote("measure", { kind: "failed", reason: "ERR_INGEST_FANOUT_INVALID: no items" })).toBe(
      "fan-out measure: ERR_INGEST_FANOUT_INVALID: no items",
    );
    expect(expansionNote("measure", { kind: "wait", reason: "item x is still running" })).toBe(
      "fan-out measure: item x is still running",
    );
    expect(
      expansionNote("measure", { kind: "gate", gate_id: "fanout-limit/measure/1", items: 9 }),
    ).toBeNull();
  });
});

describe("frontierStep", () => {
  let open: ExampleContext | null = null;
  afterEach(() => {
    open?.close();
    open = null;
  });

  it("a fresh run: held at its risk gate, and nothing journaled (no gate to open, no fan-out)", async () => {
    open = await exampleContext("repo-audit");
    const seq = open.ctx.log.state.seq;
    const f = frontierStep(open.ctx);
    expect([f.status, f.waiting_gates, f.dispatch, f.expand]).toEqual(["gate", ["write"], [], []]);
    expect(open.ctx.log.state.seq).toBe(seq);
  });

  it("once the risk gate is approved, the first packet goes", async () => {
    open = await exampleContext("repo-audit", {
      policy: {
        policy: { kind: "approval-policy", schema_version: "1", approve: ["write"] },
        name: "p.json",
      },
    });
    await new ApprovalDesk(open.ctx).applyOperatorApprovals();
    const f = frontierStep(open.ctx);
    expect(f.dispatch).toEqual([{ packet_id: "inventory", attempt: 1, kind: "first" }]);
  });
});

describe("oneAskPerGate", () => {
  it("one ask per gate, holding every packet that asked for it, in the order they came", () => {
    expect(
      oneAskPerGate([
        { gate_id: "write", packets: ["a"], reason: "a was sent back" },
        { gate_id: "human-gate", packets: ["h"], reason: "h is a human gate" },
        { gate_id: "write", packets: ["b", "a"], reason: "b was sent back" },
      ]),
    ).toEqual([
      { gate_id: "write", packets: ["a", "b"], reason: "a was sent back" },
      { gate_id: "human-gate", packets: ["h"], reason: "h is a human gate" },
    ]);
  });
});
