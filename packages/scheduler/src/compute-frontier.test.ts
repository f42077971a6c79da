import fs from "node:fs";
import { digest } from "@dwm/core";
import { initialState } from "@dwm/runtime";
import type { Gate, Packet, PacketState, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { computeFrontier, type FrontierRun, planLimits } from "./compute-frontier.js";
import { runOf } from "./test-support/run.js";

const example = JSON.parse(
  fs.readFileSync(new URL("../../../schemas/examples/packet/valid/inventory.json", import.meta.url), "utf8"),
) as Packet;

interface Spec {
  id: string;
  deps?: string[];
  gates?: string[];
  humanGate?: string;
  noWorkers?: boolean;
  maxRetries?: number;
}

function makeRun(specs: Spec[], gates: Partial<Gate>[] = []): FrontierRun {
  const packets = new Map<string, Packet>();
  for (const s of specs) {
    const p: Packet = {
      ...structuredClone(example),
      packet_id: s.id,
      depends_on: s.deps ?? [],
      gates: s.gates ?? [],
      human_gate: s.humanGate !== undefined,
      ...(s.humanGate ? { completion_gate: s.humanGate } : {}),
      budget: { max_retries: s.maxRetries ?? 1 },
    };
    if (s.noWorkers) p.workers = [];
    packets.set(s.id, p);
  }
  const gateMap = new Map<string, Gate>();
  for (const g of gates) {
    gateMap.set(
      g.gate_id as string,
      {
        kind: "gate",
        schema_version: "1",
        category: "write",
        trigger: "t",
        safe_default: "s",
        source: "worker-permission",
        packets: [],
        requires_approval: true,
        ...g,
      } as Gate,
    );
  }
  const run = runOf("demo-000000000000", [...packets.values()], [...gateMap.values()]);
  return { run, packets, gates: gateMap };
}

function set(state: RunState, id: string, patch: Partial<PacketState>): void {
  Object.assign(state.packets[id] as PacketState, patch);
}

const COMMIT = "a".repeat(40);
const done = { state: "completed", commit: COMMIT, merged_commit: COMMIT } as const;

describe("computeFrontier", () => {
  it("orders ready packets topologically then by plan order, and caps them at the free slots", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }, { id: "c", deps: ["a"] }, { id: "d" }]);
    const state = initialState(run.run);
    const f = computeFrontier(state, run, { planConcurrencyCap: 2 });
    expect(validateSchema("frontier", f).ok).toBe(true);
    expect(f.status).toBe("running");
    expect(f.ready).toEqual(["a", "b", "d"]);
    expect(f.dispatch).toEqual([
      { packet_id: "a", attempt: 1, kind: "first" },
      { packet_id: "b", attempt: 1, kind: "first" },
    ]);
    expect(f.blocked).toEqual([
      { packet_id: "c", reason: "dependency", detail: "waiting for a", waiting_on: ["a"] },
    ]);
    expect(f.budget).toMatchObject({ concurrency_cap: 2, slots_free: 2, attempts_used: 0, exhausted: null });
  });

  it("--concurrency overrides the plan cap; budget.max_agents bounds both; in-flight packets take slots", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }]);
    const state = initialState(run.run);
    expect(computeFrontier(state, run, { planConcurrencyCap: 1, concurrency: 3 }).dispatch).toHaveLength(3);
    expect(
      computeFrontier(state, run, { planConcurrencyCap: 4, concurrency: 3, maxAgents: 2 }).dispatch,
    ).toHaveLength(2);
    set(state, "a", { state: "dispatched", attempts: 1 });
    const f = computeFrontier(state, run, { concurrency: 2 });
    expect(f.in_flight).toEqual(["a"]);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["b"]);
    expect(f.ready).toEqual(["b", "c", "d"]);
    expect(f.budget.slots_free).toBe(1);
  });

  it("a completed dependency counts only once merged; a merge conflict blocks downstream on its gate", () => {
    const run = makeRun([{ id: "a" }, { id: "b", deps: ["a"] }]);
    const state = initialState(run.run);
    set(state, "a", { state: "completed", commit: COMMIT, merged_commit: null });
    let f = computeFrontier(state, run);
    expect(f.blocked[0]).toEqual({
      packet_id: "b",
      reason: "dependency",
      detail: "waiting for a to be merged into the integration branch",
      waiting_on: ["a"],
    });
    // The runner merges it next: there is still work to do.
    expect(f.status).toBe("running");
    state.gates["merge-conflict/a/1"] = {
      state: "open",
      gate_digest: digest("g"),
      packets: ["a"],
      reason: "conflict",
      approval_digest: null,
      seq: 3,
    };
    set(state, "a", { conflict_gate: "merge-conflict/a/1" });
    f = computeFrontier(state, run);
    expect(f.blocked[0]?.reason).toBe("gate");
    expect(f.blocked[0]?.waiting_on).toEqual(["merge-conflict/a/1"]);
    expect(f.waiting_gates).toEqual(["merge-conflict/a/1"]);
    expect(f.status).toBe("gate");
    // Completed without a commit (nothing to merge): done for its dependents.
    set(state, "a", { conflict_gate: null, commit: null });
    expect(computeFrontier(state, run).dispatch.map((d) => d.packet_id)).toEqual(["b"]);
  });

  it("a gated packet waits for its gate; approval releases it; a rejected gate is not waiting", () => {
    const run = makeRun([{ id: "a" }, { id: "b", deps: ["a"], gates: ["write"] }], [{ gate_id: "write" }]);
    const state = initialState(run.run);
    // Not waiting yet: its dependency is not done.
    let f = computeFrontier(state, run);
    expect(f.waiting_gates).toEqual([]);
    set(state, "a", done);
    f = computeFrontier(state, run);
    expect(f.status).toBe("gate");
    expect(f.waiting_gates).toEqual(["write"]);
    expect(f.blocked).toEqual([
      { packet_id: "b", reason: "gate", detail: "waiting for approval of write", waiting_on: ["write"] },
    ]);
    (state.gates.write as RunState["gates"][string] & object).state = "approved";
    f = computeFrontier(state, run);
    expect(f.dispatch).toEqual([{ packet_id: "b", attempt: 1, kind: "first" }]);
    (state.gates.write as RunState["gates"][string] & object).state = "rejected";
    f = computeFrontier(state, run);
    expect(f.waiting_gates).toEqual([]);
    expect(f.status).toBe("failed");
    expect(f.blocked[0]?.detail).toMatch(/rejected/);
  });

  it("a human-gate packet without workers opens its completion gate when its dependencies are done", () => {
    const run = makeRun(
      [{ id: "a" }, { id: "human_gate", deps: ["a"], humanGate: "human-gate", noWorkers: true }],
      [{ gate_id: "human-gate", category: "human-review", source: "human-gate-phase" }],
    );
    const state = initialState(run.run);
    expect(computeFrontier(state, run).open_gates).toEqual([]);
    set(state, "a", done);
    let f = computeFrontier(state, run);
    expect(f.open_gates).toEqual([
      {
        gate_id: "human-gate",
        packets: ["human_gate"],
        reason: "human_gate is a human gate and everything it depends on is done",
      },
    ]);
    expect(f.dispatch).toEqual([]);
    expect(f.status).toBe("running");
    (state.gates["human-gate"] as RunState["gates"][string] & object).state = "open";
    f = computeFrontier(state, run);
    expect(f.open_gates).toEqual([]);
    expect(f.status).toBe("gate");
    expect(f.waiting_gates).toEqual(["human-gate"]);
  });

  it("a human-gate packet with workers is dispatched like any other; its open gate holds it after review", () => {
    const run = makeRun(
      [{ id: "a" }, { id: "human_gate", deps: ["a"], humanGate: "human-gate" }],
      [{ gate_id: "human-gate", category: "human-review", source: "human-gate-phase" }],
    );
    const state = initialState(run.run);
    set(state, "a", done);
    expect(computeFrontier(state, run).dispatch.map((d) => d.packet_id)).toEqual(["human_gate"]);
    set(state, "human_gate", { state: "reviewed", attempts: 1, last_verdict: "approved" });
    state.gates["human-gate"] = {
      state: "open",
      gate_digest: digest("h"),
      packets: ["human_gate"],
      reason: "r",
      approval_digest: null,
      seq: 9,
    };
    const f = computeFrontier(state, run);
    expect(f.status).toBe("gate");
    expect(f.blocked).toEqual([
      {
        packet_id: "human_gate",
        reason: "gate",
        detail: "waiting for a decision on human-gate",
        waiting_on: ["human-gate"],
      },
    ]);
  });

  it("a packet held by several open gates waits on each once, in the order of the state's gates", () => {
    const gates = ["g2", "g1", "g3"].map((gate_id) => ({ gate_id, category: "human-review" as const }));
    const run = makeRun([{ id: "a" }, { id: "b" }], gates);
    const state = initialState(run.run);
    set(state, "a", { state: "needs-human", attempts: 1, last_verdict: "needs-human" });
    set(state, "b", { state: "needs-human", attempts: 1, last_verdict: "needs-human" });
    const gate = (gateState: "open" | "approved", packets: string[], seq: number) => ({
      state: gateState,
      gate_digest: digest(`g${seq}`),
      packets,
      reason: "r",
      approval_digest: null,
      seq,
    });
    state.gates.g2 = gate("open", ["a", "a", "b"], 7);
    state.gates.g1 = gate("open", ["a"], 8);
    state.gates.g3 = gate("approved", ["a", "b"], 9);
    expect(computeFrontier(state, run).blocked).toEqual([
      {
        packet_id: "a",
        reason: "gate",
        detail: "waiting for a decision on g2, g1",
        waiting_on: ["g2", "g1"],
      },
      { packet_id: "b", reason: "gate", detail: "waiting for a decision on g2", waiting_on: ["g2"] },
    ]);
  });

  it("counts attempts against max_attempts and tokens against the token budget", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }, { id: "c" }]);
    const state = initialState(run.run);
    set(state, "a", { ...done, attempts: 2 });
    let f = computeFrontier(state, run, { concurrency: 4, maxAttempts: 3 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["b"]);
    expect(f.budget).toMatchObject({ attempts_used: 2, max_attempts: 3, exhausted: null });
    set(state, "b", { ...done, attempts: 1 });
    f = computeFrontier(state, run, { concurrency: 4, maxAttempts: 3 });
    expect(f.status).toBe("budget");
    expect(f.budget.exhausted).toBe("attempts");
    expect(f.blocked).toEqual([
      { packet_id: "c", reason: "budget", detail: "3 attempts used of max 3", waiting_on: [] },
    ]);
    f = computeFrontier(state, run, { tokenBudget: 1000, tokensUsed: 1000 });
    expect(f.status).toBe("budget");
    expect(f.budget.exhausted).toBe("tokens");
    expect(computeFrontier(state, run, { tokenBudget: 1000, tokensUsed: 999 }).dispatch).toHaveLength(1);
  });

  it("counts dollars against the USD budget, and shows them only when a USD budget is set", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }]);
    const state = initialState(run.run);
    set(state, "a", { ...done, attempts: 1 });
    let f = computeFrontier(state, run, { usdBudget: 2, usdSpent: 2.25 });
    expect(f.status).toBe("budget");
    expect(f.budget).toMatchObject({ exhausted: "usd", usd_spent: 2.25, usd_budget: 2 });
    expect(f.blocked).toEqual([
      { packet_id: "b", reason: "budget", detail: "$2.25 spent of budget $2", waiting_on: [] },
    ]);
    expect(validateSchema("frontier", f).problems).toEqual([]);
    f = computeFrontier(state, run, { usdBudget: 2, usdSpent: 1.99 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["b"]);
    expect(f.budget.exhausted).toBeNull();
    expect(Object.keys(computeFrontier(state, run, {}).budget)).not.toContain("usd_spent");
    expect(() => computeFrontier(state, run, { usdBudget: -1 })).toThrow(/usdBudget must be a number ≥ 0/);
  });

  it("a failed packet dooms everything downstream; independent work goes on", () => {
    const run = makeRun([{ id: "a" }, { id: "b", deps: ["a"] }, { id: "c", deps: ["b"] }, { id: "d" }]);
    const state = initialState(run.run);
    set(state, "a", { state: "failed", attempts: 2, reason: "retries spent" });
    let f = computeFrontier(state, run);
    expect(f.failed).toEqual(["a"]);
    expect(f.blocked.map((b) => [b.packet_id, b.reason, b.waiting_on])).toEqual([
      ["b", "upstream-failed", ["a"]],
      ["c", "upstream-failed", ["b"]],
    ]);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["d"]);
    set(state, "d", done);
    f = computeFrontier(state, run);
    expect(f.status).toBe("failed");
  });

  it("repairs, abandoned attempts and infrastructure retries are dispatched with the next attempt number", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d", maxRetries: 1 }]);
    const state = initialState(run.run);
    set(state, "a", { state: "repairing", attempts: 1, repairs: 1 });
    set(state, "b", { state: "abandoned", attempts: 3 });
    set(state, "c", { state: "pending", attempts: 1, infra_retries: 1, reason: "timeout" });
    set(state, "d", { state: "repairing", attempts: 2, repairs: 2 });
    const f = computeFrontier(state, run, {
      concurrency: 8,
      notBefore: { c: "2026-01-01T00:01:00.000Z" },
      now: "2026-01-01T00:00:00.000Z",
    });
    expect(f.dispatch).toEqual([
      { packet_id: "a", attempt: 2, kind: "repair" },
      { packet_id: "b", attempt: 4, kind: "retry" },
    ]);
    expect(f.blocked.map((b) => [b.packet_id, b.reason])).toEqual([
      ["c", "backoff"],
      ["d", "budget"],
    ]);
    const later = computeFrontier(state, run, {
      concurrency: 8,
      notBefore: { c: "2026-01-01T00:01:00.000Z" },
      now: "2026-01-01T00:01:00.000Z",
    });
    expect(later.dispatch.map((d) => [d.packet_id, d.kind])).toContainEqual(["c", "retry"]);
  });

  it("a rework after a rejected gate is dispatched as rework; a backoff alone makes the status waiting", () => {
    const run = makeRun([{ id: "a" }, { id: "b" }]);
    const state = initialState(run.run);
    set(state, "a", { state: "pending", attempts: 1, reopens: 1, reason: "gate human-gate rejected: redo" });
    set(state, "b", { state: "pending", attempts: 1, infra_retries: 1, reason: "crashed" });
    const f = computeFrontier(state, run, {
      concurrency: 1,
      notBefore: { b: "2026-01-01T00:05:00.000Z" },
      now: "2026-01-01T00:00:00.000Z",
    });
    expect(f.dispatch).toEqual([{ packet_id: "a", attempt: 2, kind: "rework" }]);
    set(state, "a", done);
    expect(
      computeFrontier(state, run, {
        notBefore: { b: "2026-01-01T00:05:00.000Z" },
        now: "2026-01-01T00:00:00Z",
      }).status,
    ).toBe("waiting");
  });

  it("is complete when every packet completed, and pure: equal inputs give equal frontiers", () => {
    const run = makeRun([{ id: "a" }, { id: "b", deps: ["a"] }]);
    const state = initialState(run.run);
    const before = structuredClone(state);
    const f1 = computeFrontier(state, run, { concurrency: 2 });
    expect(computeFrontier(state, run, { concurrency: 2 })).toEqual(f1);
    expect(state).toEqual(before);
    set(state, "a", done);
    set(state, "b", done);
    const f = computeFrontier(state, run);
    expect(f.status).toBe("complete");
    expect(f.completed).toEqual(["a", "b"]);
    // Not complete while a packet's work is not merged into the integration branch.
    set(state, "b", { merged_commit: null });
    expect(computeFrontier(state, run).status).toBe("running");
    state.gates["merge-conflict/b/1"] = {
      state: "open",
      gate_digest: digest("g"),
      packets: ["b"],
      reason: "conflict",
      approval_digest: null,
      seq: 4,
    };
    set(state, "b", { conflict_gate: "merge-conflict/b/1" });
    const g = computeFrontier(state, run);
    expect(g.status).toBe("gate");
    expect(g.waiting_gates).toEqual(["merge-conflict/b/1"]);
  });

  it("refuses an unusable policy and a state of another run with coded errors", () => {
    const run = makeRun([{ id: "a" }]);
    const state = initialState(run.run);
    expect(() => computeFrontier(state, run, { concurrency: 0 })).toThrow(
      expect.objectContaining({ code: "ERR_SCHEDULER_POLICY_INVALID" }),
    );
    expect(() => computeFrontier(state, run, { maxAttempts: -1 })).toThrow(
      expect.objectContaining({ code: "ERR_SCHEDULER_POLICY_INVALID" }),
    );
    expect(() => computeFrontier({ ...state, run_id: "other" }, run)).toThrow(
      expect.objectContaining({ code: "ERR_SCHEDULER_RUN_MISMATCH" }),
    );
  });

  it("planLimits reads parallelism.concurrency_cap and budget.max_agents", () => {
    expect(planLimits({ parallelism: { concurrency_cap: 3 }, budget: { max_agents: 2 } })).toEqual({
      concurrencyCap: 3,
      maxAgents: 2,
    });
    expect(planLimits({ parallelism: { concurrency_cap: 0 } })).toEqual({
      concurrencyCap: null,
      maxAgents: null,
    });
    expect(planLimits(null)).toEqual({ concurrencyCap: null, maxAgents: null });
  });
});
