// checkHandoffPhases alone: a handoff's phases exist, the sender outputs it, the receiver depends on the sender.
import { describe, expect, it } from "vitest";
import { checkHandoffPhases, phaseTable } from "./graph.js";
import { ProblemList } from "./problems.js";

const phases = phaseTable({
  phases: [
    { id: "a", depends_on: [], outputs: ["a.json"] },
    { id: "b", depends_on: ["a"], outputs: ["b.json"] },
    { id: "c", depends_on: [], outputs: ["c.json"] },
  ],
});

function check(h: Record<string, unknown>): string[] {
  const out = new ProblemList();
  checkHandoffPhases(h, 4, phases, out);
  return out.items.map((p) => `${p.code} ${p.pointer} ${p.message}`);
}

describe("checkHandoffPhases", () => {
  it("passes a handoff of an output to a phase that depends on its producer", () => {
    expect(check({ from_phase: "a", to_phase: "b", artifact: "a.json" })).toEqual([]);
  });

  it("unknown phases on either side", () => {
    expect(check({ from_phase: "x", to_phase: "y", artifact: "a.json" })).toEqual([
      'ERR_PLAN_UNKNOWN_PHASE /handoffs/4/from_phase handoff from unknown phase "x"',
      'ERR_PLAN_UNKNOWN_PHASE /handoffs/4/to_phase handoff to unknown phase "y"',
    ]);
  });

  it("an artifact the sender does not output, to a phase that does not depend on it", () => {
    expect(check({ from_phase: "a", to_phase: "c", artifact: "c.json" })).toEqual([
      'ERR_PLAN_HANDOFF_NOT_PRODUCED /handoffs/4/artifact handoff artifact "c.json" is not an output of phase "a"',
      'ERR_PLAN_HANDOFF_DEPENDENCY /handoffs/4/to_phase phase "c" receives "c.json" from "a" but does not depend on it',
    ]);
  });

  it("a phase handing to itself needs no dependency", () => {
    expect(check({ from_phase: "c", to_phase: "c", artifact: "c.json" })).toEqual([]);
  });
});
