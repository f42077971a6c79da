// safe_default skip in the frontier: the packets a skip gate holds are skipped while it is not
// approved, what depends on them is skipped too, the run can complete without them, and an
// approval brings them back. The tracker gives computeFrontier's answer all along.
import fs from "node:fs";
import { digest } from "@dwm/core";
import { applyEvent, initialState } from "@dwm/runtime";
import type { Gate, JournalEvent, Packet, RunState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { computeFrontier, type FrontierRun } from "./compute-frontier.js";
import { runOf } from "./test-support/run.js";
import { FrontierTracker } from "./tracker.js";

const example = JSON.parse(
  fs.readFileSync(new URL("../../../schemas/examples/packet/valid/inventory.json", import.meta.url), "utf8"),
) as Packet;
const packet = (id: string, extra: Partial<Packet> = {}): Packet => ({
  ...structuredClone(example),
  packet_id: id,
  depends_on: [],
  gates: [],
  ...extra,
});
const gate = (id: string, action: Gate["default_action"], packets: string[]): Gate => ({
  kind: "gate",
  schema_version: "1",
  gate_id: id,
  category: "network",
  trigger: "network access",
  safe_default: `${action} before network`,
  ...(action ? { default_action: action } : {}),
  source: "plan-risk-gate",
  packets,
  review: [],
  requires_approval: true,
});

/** build → notify (held by network, a skip gate) → announce; build → report. */
function world(action: Gate["default_action"] | null = "skip") {
  const packets = [
    packet("build"),
    packet("notify", { depends_on: ["build"], gates: ["network"] }),
    packet("announce", { depends_on: ["notify"] }),
    packet("report", { depends_on: ["build"] }),
  ];
  const gates = [gate("network", action ?? undefined, ["notify"])];
  const run = runOf("demo-000000000000", packets, gates);
  const view: FrontierRun = {
    run,
    packets: new Map(packets.map((p) => [p.packet_id, p])),
    gates: new Map(gates.map((g) => [g.gate_id, g])),
  };
  const state = initialState(run);
  const tracker = new FrontierTracker({ check: true });
  const events: JournalEvent[] = [];
  const apply = (type: string, data: Record<string, unknown>) => {
    const seq = state.seq + 1;
    const ev = {
      seq,
      prev: digest(seq),
      type,
      at: "2026-01-01T00:00:00.000Z",
      data,
      digest: digest(`e${seq}`),
    };
    applyEvent(state, ev as JournalEvent);
    events.push(ev as JournalEvent);
    tracker.note([ev as JournalEvent]);
  };
  const complete = (id: string) => {
    const n = (state.packets[id]?.attempts ?? 0) + 1;
    apply("packet.dispatched", { packet_id: id, attempt: n, packet_digest: digest(id), base_commit: null });
    apply("attempt.recorded", {
      packet_id: id,
      attempt: n,
      outcome: "ok",
      attempt_digest: digest(`a${id}`),
      files: [],
    });
    apply("packet.reviewed", {
      packet_id: id,
      attempt: n,
      verdict: "approved",
      review_digest: digest(`r${id}`),
      files: [],
    });
    apply("packet.completed", { packet_id: id, attempt: n });
  };
  const frontier = () => {
    tracker.frontier(state, view); // check: true compares it with computeFrontier
    return computeFrontier(state, view, { planConcurrencyCap: 4 });
  };
  return { state: state as RunState, apply, complete, frontier };
}

describe("safe_default skip", () => {
  it("skips what the gate holds and what depends on it, one look at a time; the rest goes on and the run completes", () => {
    const w = world();
    expect(w.frontier().skip).toBeUndefined(); // build is not done yet: nothing to skip
    w.complete("build");
    let f = w.frontier();
    expect(f.status).toBe("running");
    expect(f.skip).toEqual([
      {
        packet_id: "notify",
        gates: ["network"],
        upstream: [],
        reason: "network not approved, and the plan's safe default is to skip it",
      },
    ]);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["report"]);
    w.apply("packet.skipped", { ...(f.skip?.[0] as object) });
    f = w.frontier();
    expect(f.skip).toEqual([
      { packet_id: "announce", gates: [], upstream: ["notify"], reason: "it depends on skipped notify" },
    ]);
    w.apply("packet.skipped", { ...(f.skip?.[0] as object) });
    w.complete("report");
    f = w.frontier();
    expect(f.status).toBe("complete");
    expect(f.waiting_gates).toEqual([]);
    expect(f.completed).toEqual(["build", "report"]);
  });

  it("approving the gate brings the skipped packets back, upstream first", () => {
    const w = world();
    w.complete("build");
    w.apply("packet.skipped", { packet_id: "notify", gates: ["network"], upstream: [], reason: "r" });
    w.apply("packet.skipped", { packet_id: "announce", gates: [], upstream: ["notify"], reason: "r" });
    w.complete("report");
    w.apply("run.completed", {});
    expect(w.frontier().status).toBe("complete");
    w.apply("gate.approved", {
      gate_id: "network",
      gate_digest: digest(gate("network", "skip", ["notify"])),
      approval_digest: digest("ok"),
      files: [],
    });
    let f = w.frontier();
    expect([f.status, f.unskip]).toEqual(["running", ["notify"]]);
    w.apply("packet.reopened", { packet_id: "notify", reason: "nothing skips it any more" });
    f = w.frontier();
    expect(f.unskip).toEqual(["announce"]);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["notify"]);
  });

  it("a stop or ask gate is waited for instead", () => {
    // null: a prose safe default (schema 0.5), which stops.
    for (const action of ["stop", "ask", null] as const) {
      const w = world(action);
      w.complete("build");
      const f = w.frontier();
      expect(f.skip).toBeUndefined();
      expect(f.waiting_gates).toEqual(["network"]);
    }
  });
});
