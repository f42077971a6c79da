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
      next: "asked when its packets are ready: dwm approve r write --store s",
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

  it("names the way forward from every state", () => {
    const next = (g: GateState, pre: boolean, a: Gate | null = null, st = state) =>
      gateRow(view(g, pre), a, st, new Set(), "r").next;
    const human: Gate = { ...artifact, gate_id: "h", category: "human-review", source: "human-gate-phase" };
    expect(next(gateState("open"), false)).toBe(
      "waits for your decision: dwm approve r write, or reject it with a reason",
    );
    expect(next(gateState("approved"), true)).toBe("approved; nothing to decide");
    expect(next(gateState("closed"), false, human)).toBe("asked when the run reaches it: dwm run r");
    const reopened = {
      ...gateState("closed", "revision 2 changed a"),
      gate_digest: `sha256:${"3".repeat(64)}`,
    } as GateState;
    expect(next(reopened, false, human)).toBe(
      "reopened (revision 2 changed a); asked when the run reaches it: dwm run r",
    );
    expect(next(reopened, true, artifact)).toBe(
      "reopened (revision 2 changed a); asked when its packets are ready: dwm approve r write",
    );
    expect(next(gateState("rejected"), false, human)).toBe(
      "rejected; the work it sent back runs again (dwm run r), then it is asked again",
    );
    // A rejected risk gate: asked again once a packet it holds is sent back (reopened after it), else a plan change.
    expect(next(gateState("rejected"), true, artifact)).toBe(
      "rejected and nothing was sent back: edit the plan so no packet needs write, then dwm compile and dwm run r",
    );
    const sentBack = runState({ packets: { a: packet("pending", { reopens: 1, seq: 5 }) } });
    expect(next(gateState("rejected"), true, artifact, sentBack)).toBe(
      "rejected; the work it sent back runs again (dwm run r), then it is asked again",
    );
    expect(next(gateState("superseded", "revision 2 changed a; a will run again"), false)).toBe(
      "superseded (revision 2 changed a; a will run again); nothing to decide",
    );
  });
});
