import fs from "node:fs";
import { digest } from "@dwm/core";
import { initialState } from "@dwm/runtime";
import type { Packet, PacketFanoutTemplate, PacketState, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { computeFrontier, type FrontierRun } from "./compute-frontier.js";
import { runOf } from "./test-support/run.js";

const example = JSON.parse(
  fs.readFileSync(new URL("../../../schemas/examples/packet/valid/inventory.json", import.meta.url), "utf8"),
) as Packet;

const template = (position: number): PacketFanoutTemplate => ({
  role: "template",
  over: "items.json",
  key: "id",
  max_items: 10,
  source_packet: "list",
  first: "measure",
  position,
  pipeline: ["measure", "grade"],
  reduce: "report",
});

function packet(id: string, deps: string[], extra: Partial<Packet> = {}): Packet {
  return { ...structuredClone(example), packet_id: id, depends_on: deps, gates: [], ...extra };
}

// list → measure (fan-out) → grade → report
function fanRun(): FrontierRun & { packets: Map<string, Packet> } {
  const ps = [
    packet("list", []),
    packet("measure", ["list"], { fanout: template(0) }),
    packet("grade", ["measure"], { fanout: template(1) }),
    packet("report", ["grade"]),
  ];
  const run = runOf("fan-000000000000", ps, [], "0.6");
  return { run, packets: new Map(ps.map((p) => [p.packet_id, p])), gates: new Map() };
}

function done(state: RunState, id: string): void {
  Object.assign(state.packets[id] as PacketState, { state: "completed", attempts: 1, commit: null });
}

/** What the fold does on fanout.expanded (items a, b; grade items depend on their measure item). */
function expand(state: RunState, run: FrontierRun & { packets: Map<string, Packet> }, keys: string[]): void {
  const packets: { packet_id: string; template: string; digest: `sha256:${string}` }[] = [];
  for (const k of keys) {
    for (const [t, deps] of [
      ["measure", ["list"]],
      ["grade", [`measure/${k}`]],
    ] as const) {
      const id = `${t}/${k}`;
      run.packets.set(id, packet(id, [...deps]));
      state.packets[id] = {
        ...(state.packets.list as PacketState),
        state: "pending",
        attempts: 0,
        fanout_from: t,
      };
      packets.push({ packet_id: id, template: t, digest: digest(id) });
    }
  }
  for (const t of ["measure", "grade"]) (state.packets[t] as PacketState).state = "expanded";
  state.fanouts = {
    measure: {
      source_packet: "list",
      templates: ["measure", "grade"],
      handoff_digest: digest("h"),
      items: keys.length,
      packets,
      dropped: [],
      seq: 1,
    },
  };
}

describe("computeFrontier: fan-out", () => {
  it("never dispatches a template; lists the fan-out to expand once its source is done", () => {
    const run = fanRun();
    const state = initialState(run.run);
    let f = computeFrontier(state, run, { concurrency: 4 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["list"]);
    expect(f.expand).toEqual([]);
    done(state, "list");
    f = computeFrontier(state, run, { concurrency: 4 });
    expect(f.expand).toEqual(["measure"]);
    expect(f.dispatch).toEqual([]);
    expect(f.status).toBe("running");
    expect(f.blocked.find((b) => b.packet_id === "grade")?.waiting_on).toEqual(["measure"]);
    expect(validateSchema("frontier", f).problems).toEqual([]);
  });

  it("dispatches item packets like any packet (cap, dependencies) and holds the reduce until every item is done", () => {
    const run = fanRun();
    const state = initialState(run.run);
    done(state, "list");
    expand(state, run, ["a", "b", "c"]);
    let f = computeFrontier(state, run, { concurrency: 2 });
    expect(f.expand).toEqual([]);
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["measure/a", "measure/b"]);
    expect(f.ready).toEqual(["measure/a", "measure/b", "measure/c"]);
    expect(f.completed).toEqual(["list", "measure", "grade"]);
    expect(f.blocked.find((b) => b.packet_id === "report")?.detail).toBe("waiting for 3 of 3 items of grade");
    for (const k of ["a", "b", "c"]) done(state, `measure/${k}`);
    done(state, "grade/a");
    done(state, "grade/b");
    f = computeFrontier(state, run, { concurrency: 2 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["grade/c"]);
    expect(f.blocked.find((b) => b.packet_id === "report")?.detail).toBe("waiting for 1 of 3 items of grade");
    done(state, "grade/c");
    f = computeFrontier(state, run, { concurrency: 2 });
    expect(f.dispatch.map((d) => d.packet_id)).toEqual(["report"]);
    done(state, "report");
    expect(computeFrontier(state, run, {}).status).toBe("complete");
  });

  it("waits at an open fan-out limit gate; a failed item dooms the reduce", () => {
    const run = fanRun();
    const state = initialState(run.run);
    done(state, "list");
    state.gates["fanout-limit/measure/1"] = {
      state: "open",
      gate_digest: digest("g"),
      packets: ["list"],
      reason: "12 items",
      approval_digest: null,
      seq: 3,
    };
    let f = computeFrontier(state, run, {});
    expect(f.expand).toEqual([]);
    expect(f.status).toBe("gate");
    expect(f.waiting_gates).toEqual(["fanout-limit/measure/1"]);

    const r2 = fanRun();
    const s2 = initialState(r2.run);
    done(s2, "list");
    expand(s2, r2, ["a", "b"]);
    Object.assign(s2.packets["measure/a"] as PacketState, { state: "failed", reason: "no" });
    done(s2, "measure/b");
    done(s2, "grade/b");
    f = computeFrontier(s2, r2, {});
    expect(f.failed).toEqual(["measure/a"]);
    expect(f.blocked.find((b) => b.packet_id === "grade/a")?.reason).toBe("upstream-failed");
    expect(f.blocked.find((b) => b.packet_id === "report")?.reason).toBe("dependency");
    expect(f.status).toBe("failed");
  });
});
