// The deciding steps of buildRun, each alone: a command's form, a packet's inputs,
// outputs and completion check, what a packet needs gates for, and where a gate goes.
import type { Gate, Packet } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { fixturePlan } from "../test-support/helpers.js";
import { buildRun, completionCheck, packetCommand, packetInputs, packetOutputs } from "./build.js";
import { attachGates, packetNeeds } from "./gates.js";
import type { PlanPhaseView, PlanView } from "./plan.js";

const codeOf = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe("packetCommand: every spelling becomes argv (no shell) or a script (a shell)", () => {
  it("accepts each form the plan schemas allow", () => {
    expect(packetCommand(undefined, "p")).toBeUndefined();
    expect(packetCommand(null, "p")).toBeUndefined();
    expect(packetCommand(["npm", "test"], "p")).toEqual({ argv: ["npm", "test"] });
    expect(packetCommand("npm test && echo ok", "p")).toEqual({ script: "npm test && echo ok" });
    expect(packetCommand({ run: ["make"] }, "p")).toEqual({ argv: ["make"] });
    expect(packetCommand({ run: "make | tee log", shell: true }, "p")).toEqual({ script: "make | tee log" });
    expect(packetCommand({ argv: ["x"], timeout_ms: 5 }, "p")).toEqual({ argv: ["x"], timeout_ms: 5 });
    expect(packetCommand({ script: "s", timeout_ms: 1 }, "p")).toEqual({ script: "s", timeout_ms: 1 });
    expect(packetCommand({ shell: "echo" }, "p")).toEqual({ script: "echo" });
  });

  it("refuses what would run nothing, or run text without asking for a shell", () => {
    for (const bad of [
      [],
      [""],
      ["a", 1],
      { run: "make" },
      { run: " ", shell: true },
      { run: [] },
      {},
      { script: "" },
      5,
    ])
      expect(
        codeOf(() => packetCommand(bad, "p")),
        JSON.stringify(bad),
      ).toBe("ERR_PLAN_INVALID");
  });
});

type Handoff = PlanView["handoffs"][number];
const handoff = (from: string, to: string, artifact: string, fields: string[], check = "true"): Handoff =>
  ({
    from_phase: from,
    to_phase: to,
    artifact,
    artifact_schema: { format: "json", required_fields: fields, validation_command: check },
  }) as Handoff;

describe("packet inputs and outputs from handoffs", () => {
  it("an input once per artifact and producer", () => {
    const inputs = packetInputs([handoff("a", "b", "x.json", ["f"]), handoff("a", "b", "x.json", ["g"])]);
    expect(inputs).toEqual([
      { artifact: "x.json", from_packet: "a", format: "json", required_fields: ["f"] },
    ]);
  });

  it("a handed-off output keeps its first format and check, and collects fields and receivers", () => {
    const outputs = packetOutputs(
      ["notes.md", "x.json", "notes.md"],
      [handoff("a", "b", "x.json", ["f"], "jq ."), handoff("a", "c", "x.json", ["f", "g"], "other")],
    );
    expect(outputs).toEqual([
      { artifact: "notes.md" },
      {
        artifact: "x.json",
        format: "json",
        required_fields: ["f", "g"],
        validation_command: "jq .",
        to_packets: ["b", "c"],
      },
    ]);
  });
});

describe("completionCheck", () => {
  const phase = { id: "p" } as PlanPhaseView;
  const first = { completion_check: "the slice works" } as PlanView["execution_path"]["first_slice"];
  it("the phase's own; the first slice's only for a one-phase plan; else none", () => {
    expect(completionCheck({ ...phase, completion_check: "own" }, first, 3)).toBe("own");
    expect(completionCheck(phase, first, 1)).toBe("the slice works");
    expect(completionCheck(phase, first, 2)).toBeNull();
    expect(completionCheck(phase, undefined, 1)).toBeNull();
  });
});

describe("a packet's risks and gates", () => {
  const plan = fixturePlan("pipeline") as unknown as PlanView;
  const built = buildRun(plan);
  const packet = (id: string) => built.packets.find((p) => p.packet_id === id) as Packet;

  it("needs come from worker permissions, writable surfaces and commands", () => {
    expect(packetNeeds(plan, packet("survey"))).toEqual([]);
    expect(packetNeeds(plan, packet("implement")).map((n) => [n.category, n.source, n.reason])).toEqual([
      ["write", "worker-permission", "implement: worker implement-worker has write permission"],
      ["shell-process", "worker-permission", "implement: worker implement-worker has shell permission"],
      ["write", "surface", "implement: writes surface repo (., write-approved)"],
    ]);
    const withCommand = { ...packet("survey"), command: { argv: ["make"] } } as Packet;
    expect(packetNeeds(plan, withCommand).map((n) => [n.category, n.reason])).toEqual([
      ["shell-process", "survey: runs a command"],
    ]);
  });

  it("a gate phase's gate completes its packet; any other gate holds dispatch", () => {
    const a = { packet_id: "a", gates: [] as string[] } as Packet;
    const b = { packet_id: "b", gates: [] as string[] } as Packet;
    const gate = (gate_id: string, source: Gate["source"], packets: string[]) =>
      ({ gate_id, source, packets }) as Gate;
    attachGates(
      [a, b],
      [gate("write", "plan-risk-gate", ["a", "b"]), gate("human-gate", "human-gate-phase", ["b"])],
    );
    expect([a.gates, a.completion_gate, b.gates, b.completion_gate]).toEqual([
      ["write"],
      undefined,
      ["write"],
      "human-gate",
    ]);
  });
});
