// dwm gates's deciding steps alone: the order gates are listed in, and what a row offers.
import type { GateView } from "@dwm/gate-resolver";
import type { Gate, GateState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { packet, runState } from "../test-support/states.js";
import { gateOrder, gateRow } from "./gates.js";

describe("gateOrder", () => {
  it("compiled gates in compiled order, then run-time gates by id", () => {
    expect(gateOrder(["z-conflict", "write", "a-human", "deploy"], ["deploy", "write"])).toEqual([
      "deploy",
      "write",
      "a-human",
      "z-conflict",
    ]);
  });
});

const gateState = (state: GateState["state"], reason: string | null = null): GateState => ({
  state,
  gate_digest: null,
  packets: ["a"],
  reason,
  approval_digest: null,
  seq: 1,
});
const view = (state: GateState, preapprovable: boolean): GateView => ({
  gate_id: "write",
  artifact: null,
  state,
  digest: `sha256:${"2".repeat(64)}`,
  preapprovable,
  waiting: state.state === "open",
  packets: ["a"],
});
const artifact: Gate = {
  kind: "gate",
  schema_version: "1",
  gate_id: "write",
  category: "write",
  trigger: "a writes",
  safe_default: "do not dispatch",
  source: "worker-permission",
  packets: ["a"],
  review: ["docs/plan.md", "reviews/a/2.json"],
  requires_approval: true,
};
const state = runState({ packets: { a: packet("reviewed", { attempts: 2 }) } });
const journaled = new Set(["approvals/write/10.json", "approvals/write/2.json", "approvals/other/1.json"]);

describe("gateRow", () => {
  it("a closed risk gate may be approved in advance: commands offered, evidence and decisions listed", () => {
    const r = gateRow(view(gateState("closed"), true), artifact, state, journaled, "r --store s");
    expect(r).toEqual({
      gate_id: "write",
      state: "closed",
      waiting: false,
      can_preapprove: true,
      category: "write",
      source: "worker-permission",
      gate_digest: `sha256:${"2".repeat(64)}`,
      trigger: "a writes",
      safe_default: "do not dispatch",
      packets: [{ packet_id: "a", state: "reviewed", attempts: 2 }],
      reason: null,
      evidence: ["docs/plan.md", "reviews/a/2.json", "attempts/a/2/attempt.json", "attempts/a/2/diff.patch"],
      decisions: ["approvals/write/2.json", "approvals/write/10.json"],
      commands: [
        "dwm approve r write --store s",
        'dwm reject r write --store s --reason "..." [--packets <packet>,...]',
      ],
    });
  });

  it("a closed gate that is not a risk gate offers nothing yet; an open one offers its commands", () => {
    expect(gateRow(view(gateState("closed"), false), null, state, new Set(), "r").commands).toEqual([]);
    const open = gateRow(view(gateState("open", "needs a human"), false), null, state, new Set(), "r");
    expect(open).toMatchObject({
      can_preapprove: false,
      category: "human-review",
      source: "runtime",
      trigger: "needs a human",
      safe_default: "hold the packets until an operator decides",
      commands: ["dwm approve r write", 'dwm reject r write --reason "..." [--packets <packet>,...]'],
    });
  });

  it("a decided gate offers nothing, and a packet never attempted adds no evidence", () => {
    const fresh = runState({ packets: { a: packet("pending") } });
    const r = gateRow(view(gateState("approved"), true), null, fresh, new Set(), "r");
    expect([r.commands, r.evidence, r.can_preapprove]).toEqual([[], [], false]);
  });
});
