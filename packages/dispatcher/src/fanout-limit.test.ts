// The fan-out decisions of FanoutRun.expand, apart from the files: the limit gate, and waiting for items.
import { loadRun } from "@dwm/compiler";
import { digest, digestBytes } from "@dwm/core";
import { type FanoutSource, fanoutLimitGate } from "@dwm/ingester";
import type { Packet } from "@dwm/schemas";
import { afterAll, describe, expect, it } from "vitest";
import { busyItem, limitGateDecision } from "./fanout.js";
import { gateState, packetState, runState } from "./test-support/builders.js";
import { exampleRepo } from "./test-support/example.js";

const ex = exampleRepo("fan-out");
afterAll(() => ex.repo.cleanup());
const template = [...loadRun(ex.compiled.runDir).packets.values()].find(
  (p) => p.fanout?.role === "template",
) as Packet;
const bytes = Buffer.from('["a","b","c","d","e","f"]\n');
const source: FanoutSource = { artifact: "items/documents.json", digest: digestBytes(bytes), bytes };
const first = template.packet_id;
const gateDigest = (items: number, k: number) => digest(fanoutLimitGate(template, source, items, k));

describe("limitGateDecision: a fan-out over its max_items", () => {
  it("with no limit gate yet, opens fanout-limit/<first>/1 naming the count", () => {
    const d = limitGateDecision(runState(), template, source, 6);
    const g = fanoutLimitGate(template, source, 6, 1);
    expect(d).toEqual({
      kind: "open",
      gate_id: `fanout-limit/${first}/1`,
      draft: {
        type: "gate.opened",
        data: { gate_id: g.gate_id, gate_digest: digest(g), packets: g.packets, reason: g.trigger },
      },
    });
  });

  it("that exact gate approved (same count, same source bytes): every item goes through", () => {
    const state = runState(
      {},
      { [`fanout-limit/${first}/1`]: gateState({ state: "approved", gate_digest: gateDigest(6, 1) }) },
    );
    expect(limitGateDecision(state, template, source, 6)).toEqual({
      kind: "approved",
      gate_id: `fanout-limit/${first}/1`,
    });
  });

  it("that exact gate still open: wait for the decision", () => {
    const state = runState(
      {},
      { [`fanout-limit/${first}/1`]: gateState({ state: "open", gate_digest: gateDigest(6, 1) }) },
    );
    expect(limitGateDecision(state, template, source, 6)).toEqual({
      kind: "wait",
      reason: `fanout-limit/${first}/1 is open`,
    });
  });

  it("that exact gate rejected: asked again under the same id", () => {
    const state = runState(
      {},
      { [`fanout-limit/${first}/1`]: gateState({ state: "rejected", gate_digest: gateDigest(6, 1) }) },
    );
    expect(limitGateDecision(state, template, source, 6)).toMatchObject({
      kind: "open",
      gate_id: `fanout-limit/${first}/1`,
    });
  });

  it("an approval of another count (the list changed) does not count: the next gate opens", () => {
    const state = runState(
      {},
      { [`fanout-limit/${first}/1`]: gateState({ state: "approved", gate_digest: gateDigest(5, 1) }) },
    );
    expect(limitGateDecision(state, template, source, 6)).toMatchObject({
      kind: "open",
      gate_id: `fanout-limit/${first}/2`,
    });
  });
});

describe("busyItem", () => {
  const fanouts = (states: Record<string, "dispatched" | "attempted" | "completed" | "pending">) => {
    const s = runState(
      Object.fromEntries(Object.entries(states).map(([id, state]) => [id, packetState({ state })])),
    );
    s.fanouts = {
      m: {
        source_packet: "list",
        templates: ["m"],
        handoff_digest: "sha256:x",
        items: 2,
        packets: Object.keys(states).map((id) => ({ packet_id: id, template: "m", digest: "sha256:y" })),
        dropped: [],
        seq: 1,
      },
    };
    return s;
  };

  it("an item of the last expansion still running holds the next expansion", () => {
    expect(busyItem(fanouts({ "m/a": "completed", "m/b": "dispatched" }), "m")).toBe("m/b");
    expect(busyItem(fanouts({ "m/a": "attempted" }), "m")).toBe("m/a");
  });

  it("none running, or never expanded: nothing holds it", () => {
    expect(busyItem(fanouts({ "m/a": "completed", "m/b": "pending" }), "m")).toBeUndefined();
    expect(busyItem(runState(), "m")).toBeUndefined();
  });
});
