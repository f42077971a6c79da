// The activation rule steps, each alone: which problems a given activation block and plan give.
import { describe, expect, it } from "vitest";
import { ProblemList } from "./problems.js";
import { activateRules, downgradeRules } from "./rules.js";

function run(step: (out: ProblemList) => void): string[] {
  const out = new ProblemList();
  step(out);
  return out.items.map((p) => `${p.code} ${p.pointer} ${p.message}`);
}

const fullActivation = {
  matched_thresholds: ["resumable-handoffs", "planned-fanout"],
  downgrade_target: null,
};

describe("activateRules", () => {
  it("accepts a null target, an exclusive and a supporting threshold, and lists that are not empty", () => {
    const plan = { phases: [{}], resume: { restart_points: ["a"] } };
    expect(run((out) => activateRules(plan, fullActivation, out))).toEqual([]);
  });

  it("a target, a missing threshold kind and each empty list are problems, in that order", () => {
    const plan = { patterns: [], phases: ["p"], resume: { invalidators: [], restart_points: [] } };
    const activation = { matched_thresholds: ["planned-fanout"], downgrade_target: "direct-codex" };
    expect(run((out) => activateRules(plan, activation, out))).toEqual([
      'ERR_PLAN_ACTIVATION_TARGET /activation/downgrade_target an activated plan must have downgrade_target null, not "direct-codex"',
      "ERR_PLAN_ACTIVATION_THRESHOLDS /activation/matched_thresholds an activated plan needs an exclusive threshold (downstream-consumer, resumable-handoffs, multi-surface-fanout)",
      "ERR_PLAN_ACTIVATION_INCOMPLETE /patterns an activated plan needs patterns",
      "ERR_PLAN_ACTIVATION_INCOMPLETE /resume/invalidators an activated plan needs invalidators",
      "ERR_PLAN_ACTIVATION_INCOMPLETE /resume/restart_points an activated plan needs restart points",
    ]);
  });

  it("empty workers are a problem unless every phase is a command or a gate phase", () => {
    const base = { workers: [], resume: {} };
    const commandsOnly = {
      ...base,
      phases: [{ command: { run: ["true"] } }, { kind: "gate", review: ["x"] }],
    };
    expect(run((out) => activateRules(commandsOnly, fullActivation, out))).toEqual([]);
    const oneAgentPhase = { ...base, phases: [{ command: { run: ["true"] } }, { worker_ids: [] }] };
    expect(run((out) => activateRules(oneAgentPhase, fullActivation, out))).toEqual([
      "ERR_PLAN_ACTIVATION_INCOMPLETE /workers an activated plan needs workers",
    ]);
    // No phases at all: nothing shows the plan needs no workers.
    expect(run((out) => activateRules({ ...base, phases: [] }, fullActivation, out))).toEqual([
      "ERR_PLAN_ACTIVATION_INCOMPLETE /phases an activated plan needs phases",
      "ERR_PLAN_ACTIVATION_INCOMPLETE /workers an activated plan needs workers",
    ]);
  });

  it("thresholds that are not a list are left to the schema", () => {
    expect(run((out) => activateRules({}, { matched_thresholds: "x", downgrade_target: null }, out))).toEqual(
      [],
    );
  });

  it("only exclusive thresholds miss a supporting one", () => {
    const activation = { matched_thresholds: ["downstream-consumer"], downgrade_target: null };
    expect(run((out) => activateRules({}, activation, out))).toEqual([
      "ERR_PLAN_ACTIVATION_THRESHOLDS /activation/matched_thresholds an activated plan needs a supporting threshold (planned-fanout, adversarial-verification, human-gates)",
    ]);
  });
});

const downgraded = {
  workers: [],
  phases: [],
  handoffs: [],
  resume: { restart_points: [] },
  parallelism: { shape: "none", concurrency_cap: 1 },
  budget: { max_agents: 1 },
  execution_path: {
    mode: "direct-codex",
    consumer: "human",
    first_slice: { instruction: "Use simple-plan instead of dynamic-workflow-designer for this request." },
  },
};

describe("downgradeRules", () => {
  it("accepts a plan shaped as one agent run by a human, with the fixed instruction", () => {
    const activation = { matched_thresholds: [], downgrade_target: "simple-plan" };
    expect(run((out) => downgradeRules(downgraded, activation, out))).toEqual([]);
  });

  it("reports a null target, each workflow part and each execution setting, in that order", () => {
    const plan = {
      workers: [{}],
      phases: [],
      handoffs: [{}],
      resume: { restart_points: ["a"] },
      parallelism: { shape: "pipeline", concurrency_cap: 2 },
      budget: { max_agents: 3 },
      execution_path: { mode: "runtime", consumer: "runtime", first_slice: { instruction: "go" } },
    };
    const activation = { matched_thresholds: ["planned-fanout"], downgrade_target: null };
    expect(run((out) => downgradeRules(plan, activation, out))).toEqual([
      "ERR_PLAN_DOWNGRADE_TARGET /activation/downgrade_target a downgraded plan needs a downgrade_target (direct-codex, workflow-router or simple-plan)",
      "ERR_PLAN_DOWNGRADE_SHAPE /activation/matched_thresholds a downgraded plan must not claim activation thresholds",
      "ERR_PLAN_DOWNGRADE_SHAPE /workers a downgraded plan must have no workers",
      "ERR_PLAN_DOWNGRADE_SHAPE /handoffs a downgraded plan must have no handoffs",
      "ERR_PLAN_DOWNGRADE_SHAPE /resume/restart_points a downgraded plan must not define restart points",
      'ERR_PLAN_DOWNGRADE_SHAPE /parallelism/shape a downgraded plan must use parallelism shape "none", not "pipeline"',
      "ERR_PLAN_DOWNGRADE_SHAPE /parallelism/concurrency_cap a downgraded plan's concurrency_cap must be 1, not 2",
      "ERR_PLAN_DOWNGRADE_SHAPE /budget/max_agents a downgraded plan must not allocate 3 agents (at most 1)",
      'ERR_PLAN_DOWNGRADE_SHAPE /execution_path/mode a downgraded plan\'s execution mode must be "direct-codex", not "runtime"',
      'ERR_PLAN_DOWNGRADE_SHAPE /execution_path/consumer a downgraded plan\'s consumer must be "human", not "runtime"',
    ]);
  });

  it("the instruction must name the plan's own target; an unknown target is left to the schema", () => {
    const other = { matched_thresholds: [], downgrade_target: "direct-codex" };
    expect(run((out) => downgradeRules(downgraded, other, out))).toEqual([
      'ERR_PLAN_DOWNGRADE_INSTRUCTION /execution_path/first_slice/instruction a downgraded plan\'s first slice must read "Use direct-codex instead of dynamic-workflow-designer for this request."',
    ]);
    const unknown = { matched_thresholds: [], downgrade_target: "elsewhere" };
    expect(run((out) => downgradeRules(downgraded, unknown, out))).toEqual([]);
  });
});
