import fs from "node:fs";
import { initialState } from "@dwm/runtime";
import type { Packet, PacketFanoutTemplate, PacketState, RunState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { type ClassifyContext, type FrontierPolicy, placeEligible } from "../compute-frontier.js";
import { runOf } from "../test-support/run.js";
import {
  awaitingDecision,
  classified,
  dependencyProgress,
  dispatchKind,
  fanoutTemplate,
  humanGatePhase,
  type PacketLook,
  repairBudgetSpent,
  settled,
  unapprovedGates,
  unfinishedDependencies,
  upstreamFailed,
} from "./classify.js";

const example = JSON.parse(
  fs.readFileSync(
    new URL("../../../../schemas/examples/packet/valid/inventory.json", import.meta.url),
    "utf8",
  ),
) as Packet;

const COMMIT = "a".repeat(40);

function packet(id: string, extra: Partial<Packet> = {}): Packet {
  return { ...structuredClone(example), packet_id: id, depends_on: [], gates: [], ...extra };
}

/** A run of `packets`, its initial state with `patch` applied, and the look at packet `id`. */
function world(packets: Packet[], patch: Record<string, Partial<PacketState>> = {}) {
  const run = runOf("demo-000000000000", packets);
  const state = initialState(run);
  for (const [id, p] of Object.entries(patch)) Object.assign(state.packets[id] as PacketState, p);
  const doomed = new Set<string>();
  const ctx: ClassifyContext = {
    state,
    run: { run, packets: new Map(packets.map((p) => [p.packet_id, p])), gates: new Map() },
    deps: new Map(packets.map((p) => [p.packet_id, p.depends_on])),
    itemsOf: new Map(),
    isDoomed: (d) => doomed.has(d),
  };
  const look = (id: string): PacketLook => ({
    id,
    p: state.packets[id] as PacketState,
    packet: ctx.run.packets.get(id),
    ctx,
  });
  return { state, ctx, doomed, look };
}

function openGate(state: RunState, id: string, to: "open" | "approved" | "rejected", packets: string[] = []) {
  state.gates[id] = { state: to, gate_digest: null, packets, reason: null, approval_digest: null, seq: 1 };
}

describe("settled: packets with nothing left to wait for", () => {
  it("classifies expanded, completed, failed and in-flight packets; passes on the rest", () => {
    const { look, state } = world([packet("a")]);
    const p = state.packets.a as PacketState;
    const as = (patch: Partial<PacketState>) => settled({ ...look("a"), p: { ...p, ...patch } });
    expect(as({ state: "expanded" })).toEqual(classified("completed", 0));
    expect(as({ state: "completed", commit: null })).toEqual(classified("completed", 0));
    expect(as({ state: "completed", commit: COMMIT, merged_commit: null, attempts: 2 })).toEqual(
      classified("completed", 2, { unintegrated: true, mergeable: true }),
    );
    expect(as({ state: "completed", commit: COMMIT, conflict_gate: "mc/a/1" })).toEqual(
      classified("completed", 0, { unintegrated: true }),
    );
    openGate(state, "mc/a/1", "open");
    expect(as({ state: "completed", commit: COMMIT, conflict_gate: "mc/a/1" })?.waits).toEqual(["mc/a/1"]);
    expect(as({ state: "failed" })).toEqual(classified("failed", 0, { doomed: true }));
    expect(as({ state: "dispatched", attempts: 1 })).toEqual(classified("in-flight", 1));
    expect(as({ state: "attempted", attempts: 1 })?.kind).toBe("in-flight");
    for (const s of ["pending", "repairing", "abandoned", "reviewed", "needs-human"] as const)
      expect(as({ state: s })).toBeNull();
  });
});

describe("upstreamFailed", () => {
  it("dooms a packet whose dependency is doomed, naming every doomed one", () => {
    const { look, doomed } = world([packet("a"), packet("b"), packet("c", { depends_on: ["a", "b"] })]);
    expect(upstreamFailed(look("c"))).toBeNull();
    doomed.add("a");
    doomed.add("b");
    expect(upstreamFailed(look("c"))).toEqual(
      classified("blocked", 0, {
        doomed: true,
        blocked: {
          packet_id: "c",
          reason: "upstream-failed",
          detail: "upstream a, b failed",
          waiting_on: ["a", "b"],
        },
      }),
    );
  });
});

describe("awaitingDecision: reviewed and needs-human packets", () => {
  it("waits on the open gates holding it, else on infrastructure, else on its gate to open", () => {
    const hg = packet("h", { human_gate: true, completion_gate: "human/h", workers: [] });
    const { look, state } = world([hg], { h: { state: "reviewed", last_verdict: "approved", attempts: 1 } });
    expect(awaitingDecision(look("h"))?.blocked).toEqual({
      packet_id: "h",
      reason: "gate",
      detail: "reviewed approved; waiting for its gate to open",
      waiting_on: ["human/h"],
    });
    openGate(state, "needs-human/h/1", "open", ["h"]);
    openGate(state, "other", "open", ["x"]);
    const held = awaitingDecision(look("h"));
    expect(held?.waits).toEqual(["needs-human/h/1"]);
    expect(held?.blocked?.detail).toBe("waiting for a decision on needs-human/h/1");
    openGate(state, "needs-human/h/1", "approved", ["h"]);
    Object.assign(state.packets.h as PacketState, { last_verdict: "infra-failed", last_outcome: "timeout" });
    expect(awaitingDecision(look("h"))?.blocked).toEqual({
      packet_id: "h",
      reason: "infra",
      detail: "attempt 1 failed for infrastructure reasons (timeout) and no retry was scheduled",
      waiting_on: [],
    });
    (state.packets.h as PacketState).state = "pending";
    expect(awaitingDecision(look("h"))).toBeNull();
  });
});

describe("unfinishedDependencies", () => {
  it("waits for dependencies not completed, then for completed ones not merged", () => {
    const { look, state } = world([packet("a"), packet("b"), packet("c", { depends_on: ["a", "b"] })]);
    expect(unfinishedDependencies(look("c"))?.blocked?.detail).toBe("waiting for a, b");
    Object.assign(state.packets.a as PacketState, {
      state: "completed",
      commit: COMMIT,
      merged_commit: null,
    });
    Object.assign(state.packets.b as PacketState, { state: "completed", commit: null });
    expect(unfinishedDependencies(look("c"))?.blocked).toEqual({
      packet_id: "c",
      reason: "dependency",
      detail: "waiting for a to be merged into the integration branch",
      waiting_on: ["a"],
    });
    (state.packets.a as PacketState).merged_commit = COMMIT;
    expect(unfinishedDependencies(look("c"))).toBeNull();
  });

  it("a merge conflict upstream blocks on its gate, waiting only while the gate is open", () => {
    const { look, state } = world([packet("a"), packet("c", { depends_on: ["a"] })], {
      a: { state: "completed", commit: COMMIT, conflict_gate: "merge-conflict/a/1" },
    });
    const c = unfinishedDependencies(look("c"));
    expect(c?.blocked?.detail).toBe(
      "upstream work could not be merged into the integration branch: merge-conflict/a/1",
    );
    expect(c?.waits).toEqual([]);
    openGate(state, "merge-conflict/a/1", "open");
    expect(unfinishedDependencies(look("c"))?.waits).toEqual(["merge-conflict/a/1"]);
  });

  it("an expanded template is done when every item is; the detail counts the items left", () => {
    const { look, state, ctx } = world([packet("t"), packet("x"), packet("r", { depends_on: ["t", "x"] })], {
      t: { state: "expanded" },
    });
    for (const id of ["t/1", "t/2", "t/3"]) state.packets[id] = { ...(state.packets.x as PacketState) };
    (ctx.itemsOf as Map<string, string[]>).set("t", ["t/1", "t/2", "t/3"]);
    (state.packets["t/1"] as PacketState).state = "completed";
    expect(dependencyProgress("r", ctx)).toEqual({
      notDone: ["t", "x"],
      conflictGates: [],
      itemsLeft: new Map([["t", 2]]),
    });
    expect(unfinishedDependencies(look("r"))?.blocked?.detail).toBe("waiting for 2 of 3 items of t and x");
    for (const id of ["t/2", "t/3", "x"]) (state.packets[id] as PacketState).state = "completed";
    expect(unfinishedDependencies(look("r"))).toBeNull();
  });
});

describe("fanoutTemplate", () => {
  const fanout = (position: number): PacketFanoutTemplate => ({
    role: "template",
    over: "items.json",
    key: "id",
    max_items: 5,
    source_packet: "src",
    first: "t1",
    position,
    pipeline: ["t1", "t2"],
    reduce: "red",
  });

  it("the first per-item phase is to expand unless a limit gate of its own is open; the others wait for it", () => {
    const { look, state } = world([
      packet("t1", { fanout: fanout(0) }),
      packet("t2", { fanout: fanout(1) }),
      packet("p"),
    ]);
    expect(fanoutTemplate(look("p"))).toBeNull();
    expect(fanoutTemplate(look("t1"))).toEqual(classified("expand", 0));
    expect(fanoutTemplate(look("t2"))?.blocked).toEqual({
      packet_id: "t2",
      reason: "dependency",
      detail: "expanded with fan-out t1",
      waiting_on: ["t1"],
    });
    openGate(state, "fanout-limit/t10/1", "open");
    openGate(state, "fanout-limit/t1/1", "approved");
    expect(fanoutTemplate(look("t1"))?.kind).toBe("expand");
    openGate(state, "fanout-limit/t1/2", "open");
    const held = fanoutTemplate(look("t1"));
    expect(held?.waits).toEqual(["fanout-limit/t1/2"]);
    expect(held?.blocked?.detail).toBe(
      "more items than max_items 5: waiting for a decision on fanout-limit/t1/2",
    );
  });
});

describe("unapprovedGates", () => {
  it("waits for approval of every gate not approved; a rejected one is named but not waited on", () => {
    const { look, state } = world([packet("a", { gates: ["g1", "g2"] })]);
    expect(unapprovedGates(look("a"))?.blocked?.detail).toBe("waiting for approval of g1, g2");
    expect(unapprovedGates(look("a"))?.waits).toEqual(["g1", "g2"]);
    openGate(state, "g1", "approved");
    openGate(state, "g2", "rejected");
    const c = unapprovedGates(look("a"));
    expect(c?.blocked).toEqual({
      packet_id: "a",
      reason: "gate",
      detail: "gate g2 was rejected; compile a plan without that need, or reopen it",
      waiting_on: ["g2"],
    });
    expect(c?.waits).toEqual([]);
    openGate(state, "g2", "approved");
    expect(unapprovedGates(look("a"))).toBeNull();
  });
});

describe("unapprovedGates: a rejected gate that sent the packet back", () => {
  it("is asked again before the reworked packet runs; a rejection that sent nothing back is not", () => {
    const { look, state } = world([packet("a", { gates: ["write"] })]);
    openGate(state, "write", "rejected", ["a"]);
    (state.gates.write as { seq: number }).seq = 4;
    // Reopened before the rejection: nothing was sent back by it.
    Object.assign(state.packets.a as PacketState, { reopens: 1, seq: 3 });
    expect(unapprovedGates(look("a"))?.kind).toBe("blocked");
    // Reopened after it (the rejection's --packets, or a recompile): the gate is opened again.
    Object.assign(state.packets.a as PacketState, { seq: 5 });
    const c = unapprovedGates(look("a"));
    expect(c?.kind).toBe("open-gate");
    expect(c?.openGate).toEqual({
      gate_id: "write",
      packets: ["a"],
      reason: "a was sent back after write was rejected; the gate is asked again before it runs",
    });
    expect(c?.blocked?.waiting_on).toEqual(["write"]);
  });
});

describe("humanGatePhase", () => {
  it("opens the completion gate of a human gate without work (closed or rejected), then waits on it", () => {
    const hg = packet("h", { human_gate: true, completion_gate: "human/h", workers: [] });
    const { look, state } = world([hg, packet("w", { human_gate: true, completion_gate: "human/w" })]);
    const opens = humanGatePhase(look("h"));
    expect(opens?.kind).toBe("open-gate");
    expect(opens?.openGate).toEqual({
      gate_id: "human/h",
      packets: ["h"],
      reason: "h is a human gate and everything it depends on is done",
    });
    openGate(state, "human/h", "rejected");
    expect(humanGatePhase(look("h"))?.kind).toBe("open-gate");
    openGate(state, "human/h", "open");
    expect(humanGatePhase(look("h"))).toMatchObject({ kind: "blocked", waits: ["human/h"], openGate: null });
    openGate(state, "human/h", "approved");
    expect(humanGatePhase(look("h"))).toMatchObject({ kind: "blocked", waits: [] });
    // A human-gate phase with workers runs like any packet.
    expect(humanGatePhase(look("w"))).toBeNull();
  });
});

describe("repairBudgetSpent and dispatchKind", () => {
  it("holds a repair beyond budget.max_retries", () => {
    const { look, state } = world([packet("a", { budget: { max_retries: 1 } })], {
      a: { state: "repairing", repairs: 1, attempts: 1 },
    });
    expect(repairBudgetSpent(look("a"))).toBeNull();
    (state.packets.a as PacketState).repairs = 2;
    expect(repairBudgetSpent(look("a"))).toEqual(
      classified("blocked", 1, {
        budget: true,
        blocked: {
          packet_id: "a",
          reason: "budget",
          detail: "2 repairs exceed budget.max_retries 1",
          waiting_on: [],
        },
      }),
    );
    (state.packets.a as PacketState).state = "pending";
    expect(repairBudgetSpent(look("a"))).toBeNull();
  });

  it("names why a packet runs again", () => {
    const { state } = world([packet("a")]);
    const p = state.packets.a as PacketState;
    expect(dispatchKind(p)).toBe("first");
    expect(dispatchKind({ ...p, reopens: 1 })).toBe("rework");
    expect(dispatchKind({ ...p, state: "repairing", attempts: 1 })).toBe("repair");
    expect(dispatchKind({ ...p, state: "abandoned", attempts: 1 })).toBe("retry");
    expect(dispatchKind({ ...p, attempts: 1, infra_retries: 1 })).toBe("retry");
    expect(dispatchKind({ ...p, attempts: 1, infra_retries: 1, reason: "gate g rejected: redo" })).toBe(
      "rework",
    );
    expect(dispatchKind({ ...p, attempts: 1 })).toBe("rework");
  });
});

describe("placeEligible: where an eligible packet goes this turn", () => {
  const { state } = world([packet("a")], { a: { attempts: 2, infra_retries: 1 } });
  const p = state.packets.a as PacketState;
  const c = classified("eligible", 2, { dispatchKind: "retry" });
  const open = { attemptsUsed: 2, tokensUsed: 0, exhausted: null };
  const policy: FrontierPolicy = { notBefore: { a: "2026-01-01T00:10:00Z" }, now: "2026-01-01T00:05:00Z" };

  it("a candidate with its next attempt, when nothing holds it", () => {
    expect(placeEligible("a", c, p, {}, open)).toEqual({
      kind: "candidate",
      dispatch: { packet_id: "a", attempt: 3, kind: "retry" },
    });
    expect(placeEligible("a", c, p, { ...policy, now: "2026-01-01T00:10:00Z" }, open).kind).toBe("candidate");
  });

  it("backoff before its retry's time, even when the budget is spent", () => {
    expect(placeEligible("a", c, p, policy, { ...open, exhausted: "attempts" })).toEqual({
      kind: "backoff",
      blocked: {
        packet_id: "a",
        reason: "backoff",
        detail: "infrastructure retry 1 waits until 2026-01-01T00:10:00Z",
        waiting_on: [],
      },
    });
  });

  it("budget when the attempts or the tokens are spent", () => {
    expect(placeEligible("a", c, p, { maxAttempts: 2 }, { ...open, exhausted: "attempts" })).toMatchObject({
      kind: "budget",
      blocked: { detail: "2 attempts used of max 2" },
    });
    expect(
      placeEligible("a", c, p, { tokenBudget: 10 }, { ...open, tokensUsed: 12, exhausted: "tokens" }),
    ).toEqual({
      kind: "budget",
      blocked: { packet_id: "a", reason: "budget", detail: "12 tokens used of budget 10", waiting_on: [] },
    });
  });
});
