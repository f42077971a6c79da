// scorecardDiffs alone: a manifest case's verdict is the list of differences, empty only on a match.
import { describe, expect, it } from "vitest";
import { evaluatePlan } from "../evaluate-plan.js";
import { scorecardDiffs } from "./run-manifest.js";

const invalid = evaluatePlan({ schema_version: "0.4" });

describe("scorecardDiffs", () => {
  it("matches on exactly what the case names", () => {
    expect(
      scorecardDiffs(invalid, { valid: false, problems: ["ERR_PLAN_SCHEMA_VERSION /schema_version"] }),
    ).toEqual([]);
  });

  it("names each difference, problems sorted", () => {
    expect(
      scorecardDiffs(invalid, {
        valid: true,
        decision: "activate",
        downgrade_target: "simple-plan",
        problems: ["ERR_PLAN_B /b", "ERR_PLAN_A /a"],
        scores: { safety_gating: 2 },
      }),
    ).toEqual([
      "valid false, expected true",
      "decision null, expected activate",
      "downgrade_target null, expected simple-plan",
      'problems ["ERR_PLAN_SCHEMA_VERSION /schema_version"], expected ["ERR_PLAN_A /a","ERR_PLAN_B /b"]',
      "safety_gating undefined, expected 2",
    ]);
  });

  it("a case that expects valid and names no problems fails on any problem", () => {
    expect(scorecardDiffs({ ...invalid, valid: true }, { valid: true })).toEqual([
      'problems ["ERR_PLAN_SCHEMA_VERSION /schema_version"]',
    ]);
  });
});
