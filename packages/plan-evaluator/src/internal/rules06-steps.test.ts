// The 0.6 rule steps, each alone: phase shape by kind, command shell form, and where a fan-out's items come from.
import { describe, expect, it } from "vitest";
import { phaseTable } from "./graph.js";
import { ProblemList } from "./problems.js";
import { commandRules, type FanOut, gatePhaseRules, overSourceRule, workPhaseRules } from "./rules06.js";

function run(step: (out: ProblemList) => void): string[] {
  const out = new ProblemList();
  step(out);
  return out.items.map((p) => `${p.code} ${p.pointer} ${p.message}`);
}

describe("gatePhaseRules", () => {
  it("a gate phase with a review list, no workers and no command passes", () => {
    expect(run((out) => gatePhaseRules({ id: "g", review: ["x"], worker_ids: [] }, 2, out))).toEqual([]);
  });

  it("no review list, workers and a command are each a problem", () => {
    const ph = { id: "g", worker_ids: ["w"], command: { run: ["true"] } };
    expect(run((out) => gatePhaseRules(ph, 2, out))).toEqual([
      'ERR_PLAN_GATE_REVIEW /phases/2 gate phase "g" has no review list',
      'ERR_PLAN_GATE_WORKERS /phases/2/worker_ids gate phase "g" names workers ["w"]; a gate phase waits for a human',
      'ERR_PLAN_GATE_COMMAND /phases/2/command gate phase "g" has a command',
    ]);
  });
});

describe("workPhaseRules", () => {
  it("workers or a command do the work; a review list is for gate phases", () => {
    expect(run((out) => workPhaseRules({ id: "a", worker_ids: ["w"] }, 0, out))).toEqual([]);
    expect(
      run((out) => workPhaseRules({ id: "a", worker_ids: [], command: { run: ["x"] } }, 0, out)),
    ).toEqual([]);
    expect(run((out) => workPhaseRules({ id: "a", worker_ids: ["w"], review: ["r"] }, 0, out))).toEqual([
      'ERR_PLAN_GATE_REVIEW /phases/0/review phase "a" has a review list but is not a gate phase ("kind": "gate")',
    ]);
  });

  it("both workers and a command, or neither, is a problem", () => {
    expect(
      run((out) => workPhaseRules({ id: "a", worker_ids: ["w"], command: { run: ["x"] } }, 1, out)),
    ).toEqual(['ERR_PLAN_COMMAND_WORKERS /phases/1/worker_ids command phase "a" also names workers ["w"]']);
    expect(run((out) => workPhaseRules({ id: "a", worker_ids: [] }, 1, out))).toEqual([
      'ERR_PLAN_PHASE_NO_WORKERS /phases/1/worker_ids work phase "a" has no workers and no command, so nothing would do it',
    ]);
  });
});

describe("commandRules", () => {
  it("a shell string needs shell: true; an argv list must not say shell", () => {
    expect(run((out) => commandRules({ run: "make", shell: true }, 3, '"c"', out))).toEqual([]);
    expect(run((out) => commandRules({ run: ["make"] }, 3, '"c"', out))).toEqual([]);
    expect(run((out) => commandRules({ run: "make" }, 3, '"c"', out))).toEqual([
      'ERR_PLAN_COMMAND_SHELL /phases/3/command the command of phase "c" is a shell string "make", so it needs "shell": true',
    ]);
    expect(run((out) => commandRules({ run: ["make"], shell: true }, 3, '"c"', out))).toEqual([
      'ERR_PLAN_COMMAND_SHELL /phases/3/command/shell the command of phase "c" is an argv list, which runs without a shell; remove "shell"',
    ]);
  });
});

describe("overSourceRule", () => {
  // list -> fan (fan_out over items.json); other stands apart.
  const plan = {
    phases: [
      { id: "list", depends_on: [] },
      { id: "fan", depends_on: ["list"] },
      { id: "other", depends_on: [] },
    ],
  };
  const phases = phaseTable(plan);
  const fan: FanOut = { id: "fan", index: 1, spec: {}, perItem: [{ id: "fan", at: "/phases/1" }] };
  const check = (from: string) => {
    const implied: { a: string; b: string; at: string }[] = [];
    const graph = { phases, owner: new Map([["fan", fan]]), upstream: new Set(["list"]), implied };
    const problems = run((out) => overSourceRule(fan, "items.json", { from_phase: from }, graph, out));
    return { problems, implied };
  };

  it("items from upstream pass and imply no order", () => {
    expect(check("list")).toEqual({ problems: [], implied: [] });
  });

  it("items from the fan-out itself are not upstream, but imply no order", () => {
    expect(check("fan")).toEqual({
      problems: [
        'ERR_PLAN_FANOUT_OVER_SOURCE /phases/1/fan_out/over "items.json" comes from "fan", which is not upstream of the fan-out at "fan"',
      ],
      implied: [],
    });
  });

  it("items from a phase that is not upstream also make the fan-out run after it", () => {
    expect(check("other")).toEqual({
      problems: [
        'ERR_PLAN_FANOUT_OVER_SOURCE /phases/1/fan_out/over "items.json" comes from "other", which is not upstream of the fan-out at "fan"',
      ],
      implied: [{ a: "fan", b: "other", at: "/phases/1/fan_out/over" }],
    });
  });

  it("an unknown source is left to the handoff rules", () => {
    expect(check("nowhere")).toEqual({ problems: [], implied: [] });
  });
});
