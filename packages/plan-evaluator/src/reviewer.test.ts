import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluatePlan } from "./index.js";

const plan = () =>
  JSON.parse(
    fs.readFileSync(
      new URL("../../../fixtures/plan-evaluator/plans/activate-fanout-0.6.json", import.meta.url),
      "utf8",
    ),
  ) as { phases: Record<string, unknown>[]; workers: Record<string, unknown>[]; schema_version: string };

describe("reviewer (schema 0.6)", () => {
  it("a phase or a worker names its reviewer among the plan's workers", () => {
    const p = plan();
    expect(evaluatePlan(p).problems).toEqual([]);
    (p.phases[5] as Record<string, unknown>).reviewer = "nobody";
    (p.workers[0] as Record<string, unknown>).reviewer = "ghost";
    expect(evaluatePlan(p).problems.map((x) => [x.code, x.pointer, x.message])).toEqual([
      [
        "ERR_PLAN_UNKNOWN_WORKER",
        "/phases/5/reviewer",
        'phase "patch" names unknown reviewer worker "nobody"',
      ],
      [
        "ERR_PLAN_UNKNOWN_WORKER",
        "/workers/0/reviewer",
        'worker "auditor" names unknown reviewer worker "ghost"',
      ],
    ]);
  });

  it("is a 0.6 key: a 0.5 plan may not carry it", () => {
    const p = plan();
    p.schema_version = "0.5";
    expect(
      evaluatePlan(p).problems.some(
        (x) => x.pointer === "/phases/5/reviewer" && x.code === "ERR_PLAN_UNEXPECTED_KEY",
      ),
    ).toBe(true);
  });
});
