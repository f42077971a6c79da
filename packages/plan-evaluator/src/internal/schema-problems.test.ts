// describeSchemaProblem alone: the code and message each ajv keyword turns into, or none.
import type { SchemaProblem } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { describeSchemaProblem } from "./schema-problems.js";

const problem = (pointer: string, keyword: string, params: Record<string, unknown> = {}): SchemaProblem => ({
  pointer,
  keyword,
  message: `ajv says ${keyword}`,
  params,
});

const plan = {
  created_by: "me",
  patterns: ["Sequential", "Pipeline", "Sequential"],
  budget: { max_agents: -1 },
  risk_gates: [{ requires_user_approval: false, safe_default: 7 }],
  activation: { downgrade_target: "nowhere" },
};

function describeOne(p: SchemaProblem, all: SchemaProblem[] = [p]) {
  return describeSchemaProblem(p, plan, all);
}

describe("describeSchemaProblem", () => {
  it.each([
    [problem("/objective", "required"), "ERR_PLAN_MISSING_KEY", "/objective", 'missing key "objective"'],
    [
      problem("/extra", "additionalProperties"),
      "ERR_PLAN_UNEXPECTED_KEY",
      "/extra",
      'unexpected key "extra"',
    ],
    [
      problem("/budget/max_agents", "type", { type: "integer,null" }),
      "ERR_PLAN_TYPE",
      "/budget/max_agents",
      "/budget/max_agents must be an integer or null, not -1",
    ],
    [problem("/objective", "pattern"), "ERR_PLAN_EMPTY_VALUE", "/objective", "/objective must not be empty"],
    [problem("", "minLength"), "ERR_PLAN_EMPTY_VALUE", "", "the plan must not be empty"],
    [problem("/phases", "minItems"), "ERR_PLAN_EMPTY_LIST", "/phases", "/phases must be a non-empty list"],
    [
      problem("/patterns", "uniqueItems", { i: 2, j: 0 }),
      "ERR_PLAN_DUPLICATE_VALUE",
      "/patterns/2",
      '/patterns repeats "Sequential" (items 0 and 2)',
    ],
    [
      problem("/budget/max_agents", "minimum", { limit: 0 }),
      "ERR_PLAN_OUT_OF_RANGE",
      "/budget/max_agents",
      "/budget/max_agents must be >= 0, not -1",
    ],
    [
      problem("/budget/max_agents", "maximum", { limit: 9 }),
      "ERR_PLAN_OUT_OF_RANGE",
      "/budget/max_agents",
      "/budget/max_agents must be <= 9, not -1",
    ],
    [
      problem("/created_by", "const"),
      "ERR_PLAN_CREATED_BY",
      "/created_by",
      'created_by is "me", not "dynamic-workflow-designer"',
    ],
    [
      problem("/risk_gates/0/requires_user_approval", "const"),
      "ERR_PLAN_GATE_APPROVAL",
      "/risk_gates/0/requires_user_approval",
      "/risk_gates/0/requires_user_approval is false; risk gates must require user approval (true)",
    ],
    [
      problem("/created_by/x", "const", { allowedValue: 1 }),
      "ERR_PLAN_UNKNOWN_VALUE",
      "/created_by/x",
      "/created_by/x must be 1, not undefined",
    ],
    [
      problem("/budget/max_agents", "enum", { allowedValues: [1, 2] }),
      "ERR_PLAN_UNKNOWN_VALUE",
      "/budget/max_agents",
      "/budget/max_agents is -1; allowed: 1, 2",
    ],
    [
      problem("/activation/downgrade_target", "anyOf"),
      "ERR_PLAN_UNKNOWN_VALUE",
      "/activation/downgrade_target",
      '/activation/downgrade_target is "nowhere"; allowed: "direct-codex", "workflow-router", "simple-plan", null',
    ],
    [
      problem("/risk_gates/0/safe_default", "anyOf"),
      "ERR_PLAN_UNKNOWN_VALUE",
      "/risk_gates/0/safe_default",
      '/risk_gates/0/safe_default must be a text or an object {"action": "stop" | "skip" | "ask", "before": <category or phase>}, not 7',
    ],
    [
      problem("/budget/max_agents", "anyOf"),
      "ERR_PLAN_UNKNOWN_VALUE",
      "/budget/max_agents",
      "/budget/max_agents is -1, which the schema does not allow",
    ],
    [problem("/budget", "if"), "ERR_PLAN_UNKNOWN_VALUE", "/budget", "/budget: ajv says if"],
  ])("%o is %s at %s", (p, code, pointer, message) => {
    expect(describeOne(p)).toEqual({ code, pointer, message });
  });

  it("an anyOf whose value has problems inside is left to those problems", () => {
    const outer = problem("/risk_gates/0/safe_default", "anyOf");
    const inner = problem("/risk_gates/0/safe_default/action", "enum", { allowedValues: ["stop"] });
    expect(describeOne(outer, [outer, inner])).toBeNull();
  });
});
