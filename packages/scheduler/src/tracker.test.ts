import fs from "node:fs";
import { digest } from "@dwm/core";
import { initialState } from "@dwm/runtime";
import type { Gate, JournalEvent, Packet, PacketState, RunState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { computeFrontier, type FrontierPolicy, type FrontierRun } from "./compute-frontier.js";
import { runOf } from "./test-support/run.js";
import { type FrontierSummary, FrontierTracker } from "./tracker.js";

const example = JSON.parse(
  fs.readFileSync(new URL("../../../schemas/examples/packet/valid/inventory.json", import.meta.url), "utf8"),
) as Packet;

/** mulberry32: a small seeded generator, so a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMIT = "c".repeat(40);

interface World {
  run: FrontierRun & { packets: Map<string, Packet> };
  state: RunState;
  gates: string[];
  templates: string[];
}

/** A random DAG: risk gates, human-gate phases without workers, small repair budgets, and one fan-out template. */
function randomWorld(r: () => number, n: number): World {
  const gates = ["risk/a", "risk/b", "risk/c"];
  const packets: Packet[] = [];
  for (let i = 0; i < n; i++) {
    const id = `p${i}`;
    const deps = packets.filter(() => r() < 3 / Math.max(1, packets.length)).map((p) => p.packet_id);
    const human = r() < 0.08;
    const p: Packet = {
      ...structuredClone(example),
      packet_id: id,
      depends_on: deps,
      gates: gates.filter(() => r() < 0.1),
      human_gate: human,
      ...(human ? { completion_gate: `human/${id}` } : {}),
      budget: { max_retries: Math.floor(r() * 3) },
    };
    if (human) p.workers = [];
    packets.push(p);
  }
  const gateIds = [...gates, ...packets.filter((p) => p.human_gate).map((p) => `human/${p.packet_id}`)];
  const gateMap = new Map<string, Gate>(
    gateIds.map((g) => [
      g,
      {
        kind: "gate",
        schema_version: "1",
        gate_id: g,
        category: "write",
        trigger: "t",
        safe_default: "s",
        source: g.startsWith("human/") ? "human-gate-phase" : "worker-permission",
        packets: [],
        requires_approval: true,
      } as Gate,
    ]),
  );
  const run = runOf("walk-000000000000", packets, [...gateMap.values()]);
  const state = initialState(run);
  return {
    run: { run, packets: new Map(packets.map((p) => [p.packet_id, p])), gates: gateMap },
    state,
    gates: gateIds,
    templates: [],
  };
}

/** Expand a template in place (what the fold and the run loop's view do on fanout.expanded). */
function expandInto(w: World, r: () => number): string {
  const t = `t${w.templates.length}`;
  const source = `p${Math.floor(r() * w.run.run.packets.length)}`;
  w.templates.push(t);
  // The template is a packet only the journal knows here; its items depend on the source.
  w.run.packets.set(t, { ...structuredClone(example), packet_id: t, depends_on: [source], gates: [] });
  w.state.packets[t] = { ...(w.state.packets[source] as PacketState), state: "expanded", attempts: 0 };
  const items: { packet_id: string; template: string; digest: `sha256:${string}` }[] = [];
  for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
    const id = `${t}/i${k}`;
    w.run.packets.set(id, { ...structuredClone(example), packet_id: id, depends_on: [source], gates: [] });
    w.state.packets[id] = {
      ...(w.state.packets[source] as PacketState),
      state: "pending",
      attempts: 0,
      repairs: 0,
      reopens: 0,
      infra_retries: 0,
      commit: null,
      merged_commit: null,
      conflict_gate: null,
      last_verdict: null,
      reason: null,
    };
    items.push({ packet_id: id, template: t, digest: digest(id) });
  }
  w.state.fanouts = {
    ...(w.state.fanouts ?? {}),
    [t]: {
      source_packet: source,
      templates: [t],
      handoff_digest: digest("h"),
      items: items.length,
      packets: items,
      dropped: [],
      seq: w.state.seq,
    },
  };
  // A later packet reduces over the template.
  const reduce = `p${Math.floor(r() * w.run.run.packets.length)}`;
  const entry = w.run.run.packets.find((e) => e.packet_id === reduce);
  if (entry && reduce !== source) entry.depends_on = r() < 0.5 ? [t] : [...entry.depends_on, t];
  return t;
}

/** One random step: a state change the fold could make, and the event that names it. */
function step(
  w: World,
  r: () => number,
  notBefore: Record<string, string>,
  fanout = 0.02,
): Pick<JournalEvent, "type"> & { data: Record<string, unknown> } {
  const ids = Object.keys(w.state.packets);
  const roll = r();
  if (roll < 0.06) {
    const g = w.gates[Math.floor(r() * w.gates.length)] as string;
    const held = ids.filter(() => r() < 0.1);
    const to = (["open", "approved", "rejected"] as const)[Math.floor(r() * 3)] ?? "open";
    w.state.gates[g] = {
      state: to,
      gate_digest: digest(g),
      packets: held,
      reason: "r",
      approval_digest: null,
      seq: w.state.seq + 1,
    };
    return {
      type: to === "open" ? "gate.opened" : to === "approved" ? "gate.approved" : "gate.rejected",
      data: { gate_id: g },
    };
  }
  if (roll >= 0.06 && roll < 0.06 + fanout && w.templates.length < 2) {
    expandInto(w, r);
    return { type: "fanout.expanded", data: {} };
  }
  if (roll >= 0.06 + fanout && roll < 0.08 + fanout) return { type: "handoff.registered", data: {} };
  const id = ids[Math.floor(r() * ids.length)] as string;
  const p = w.state.packets[id] as PacketState;
  const set = (type: JournalEvent["type"], patch: Partial<PacketState>) => {
    Object.assign(p, patch);
    return { type, data: { packet_id: id } };
  };
  switch (p.state) {
    case "pending":
    case "repairing":
    case "abandoned":
      return set("packet.dispatched", { state: "dispatched", attempts: p.attempts + 1 });
    case "dispatched":
      return r() < 0.85
        ? set("attempt.recorded", { state: "attempted", last_outcome: "ok" })
        : set("packet.abandoned", { state: "abandoned" });
    case "attempted": {
      const v = r();
      if (v < 0.6) return set("packet.reviewed", { state: "reviewed", last_verdict: "approved" });
      if (v < 0.8) return set("packet.reviewed", { state: "reviewed", last_verdict: "changes-requested" });
      if (v < 0.9) return set("packet.reviewed", { state: "reviewed", last_verdict: "infra-failed" });
      return set("packet.reviewed", { state: "needs-human", last_verdict: "needs-human" });
    }
    case "reviewed":
    case "needs-human":
      if (p.last_verdict === "approved" || p.state === "needs-human")
        return set("packet.completed", {
          state: "completed",
          commit: r() < 0.8 ? COMMIT : null,
          reason: null,
        });
      if (p.last_verdict === "infra-failed") {
        if (r() < 0.5) notBefore[id] = r() < 0.5 ? "2026-01-01T00:00:00Z" : "2026-01-01T00:10:00Z";
        return set("infra.retry-scheduled", { state: "pending", infra_retries: p.infra_retries + 1 });
      }
      return r() < 0.7
        ? set("repair.scheduled", { state: "repairing", repairs: p.repairs + 1 })
        : set("packet.failed", { state: "failed" });
    case "completed":
      if (p.commit !== null && p.merged_commit === null && p.conflict_gate === null) {
        return r() < 0.85
          ? set("integration.merged", { merged_commit: COMMIT })
          : set("integration.conflict", { conflict_gate: `merge-conflict/${id}/1` });
      }
      return r() < 0.1
        ? set("packet.reopened", {
            state: "pending",
            reopens: p.reopens + 1,
            repairs: 0,
            commit: null,
            merged_commit: null,
            conflict_gate: null,
          })
        : { type: "lease.taken", data: {} };
    default:
      return { type: "lease.taken", data: {} };
  }
}

function summaryOf(f: ReturnType<typeof computeFrontier>): FrontierSummary {
  return {
    kind: f.kind,
    schema_version: f.schema_version,
    run_id: f.run_id,
    seq: f.seq,
    status: f.status,
    dispatch: f.dispatch,
    open_gates: f.open_gates,
    expand: f.expand ?? [],
    waiting_gates: f.waiting_gates,
    budget: f.budget,
  };
}

describe("FrontierTracker", () => {
  it.each([
    ["plans of 5–35 packets", 5, 30, 0.02],
    ["small plans with fan-outs early (items, reduces)", 2, 5, 0.2],
  ])(
    "gives computeFrontier's answer after every event of random walks: %s (200 runs, seeds 1–200)",
    (_, min, spread, fanout) => {
      let steps = 0;
      let incremental = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const r = rng(seed);
        const w = randomWorld(r, min + Math.floor(r() * spread));
        const tracker = new FrontierTracker();
        const notBefore: Record<string, string> = {};
        const policy = (): FrontierPolicy => ({
          concurrency: 1 + (seed % 4),
          maxAttempts: seed % 5 === 0 ? 20 : null,
          tokenBudget: seed % 7 === 0 ? 100 : null,
          tokensUsed: seed % 7 === 0 ? w.state.seq * 3 : 0,
          notBefore,
          now: "2026-01-01T00:05:00Z",
        });
        for (let i = 0; i < 120; i++) {
          const ev = step(w, r, notBefore, fanout);
          w.state.seq += 1;
          tracker.note([{ ...ev, seq: w.state.seq } as JournalEvent]);
          const before = tracker.classifications;
          const got = tracker.frontier(w.state, w.run, policy());
          if (tracker.classifications - before < Object.keys(w.state.packets).length) incremental++;
          const want = summaryOf(computeFrontier(w.state, w.run, policy()));
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            expect({ seed, step: i, event: ev.type, got }).toEqual({
              seed,
              step: i,
              event: ev.type,
              got: want,
            });
          }
          steps++;
        }
      }
      expect(steps).toBe(200 * 120);
      // Most steps look at a few packets, not all of them.
      expect(incremental).toBeGreaterThan(steps / 2);
    },
  );

  it("looks again only at the packet an event names (and its dependents), not at every packet", () => {
    const r = rng(7);
    const w = randomWorld(r, 0);
    // 2,000 independent packets: each settled attempt classifies one packet.
    const big = randomWorld(rng(1), 0);
    const ids = Array.from({ length: 2000 }, (_, i) => `q${i}`);
    big.run.run.packets = ids.map((id) => ({
      packet_id: id,
      digest: digest(id),
      prompt_digest: digest(id),
      depends_on: [],
    }));
    for (const id of ids)
      big.run.packets.set(id, { ...structuredClone(example), packet_id: id, depends_on: [], gates: [] });
    big.state = initialState(big.run.run);
    const tracker = new FrontierTracker({ check: true });
    let f = tracker.frontier(big.state, big.run, { concurrency: 8 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(ids.slice(0, 8));
    expect(tracker.classifications).toBe(2000);
    const at = tracker.classifications;
    const p = big.state.packets.q0 as PacketState;
    Object.assign(p, { state: "dispatched", attempts: 1 });
    big.state.seq += 1;
    tracker.note([
      { type: "packet.dispatched", seq: big.state.seq, data: { packet_id: "q0" } } as unknown as JournalEvent,
    ]);
    f = tracker.frontier(big.state, big.run, { concurrency: 8 });
    expect(tracker.classifications - at).toBe(1);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(ids.slice(1, 8));
    // A gap in the noted events (an event it was not told of) makes it look at everything again.
    big.state.seq += 2;
    tracker.note([
      { type: "packet.dispatched", seq: big.state.seq, data: { packet_id: "q1" } } as unknown as JournalEvent,
    ]);
    Object.assign(big.state.packets.q1 as PacketState, { state: "dispatched", attempts: 1 });
    f = tracker.frontier(big.state, big.run, { concurrency: 8 });
    expect(tracker.classifications - at).toBe(1 + 2000);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(ids.slice(2, 8));
    expect(w.state.packets).toEqual({});
  });

  it("check: true throws ERR_SCHEDULER_TRACKER_DIVERGED when the state changed behind its back", () => {
    const w = randomWorld(rng(3), 4);
    const tracker = new FrontierTracker({ check: true });
    tracker.frontier(w.state, w.run, { concurrency: 2 });
    // Changed without an event: seq unchanged, so the tracker trusts its classification.
    Object.assign(w.state.packets.p0 as PacketState, { state: "failed" });
    expect(() => tracker.frontier(w.state, w.run, { concurrency: 2 })).toThrow(
      expect.objectContaining({ code: "ERR_SCHEDULER_TRACKER_DIVERGED" }),
    );
  });
});
