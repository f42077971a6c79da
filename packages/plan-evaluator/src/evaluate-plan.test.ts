import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { digest } from "@dwm/core";
import { validateSchema, type WorkflowPlan05 } from "@dwm/schemas";
import { leftOut, referencePlansDir, requirePart } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { EVALUATOR_VERSION, evaluatePlan, planEvaluatorErrors } from "./index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// Skipped only when the user left the reference plans out (DWM_TEST_SKIP); missing, "are all there" fails.
const referenceDir = referencePlansDir();
const fixture = (name: string) =>
  JSON.parse(fs.readFileSync(`${root}fixtures/plan-evaluator/plans/${name}.json`, "utf8")) as WorkflowPlan05;

describe.skipIf(leftOut("reference-plans"))("reference plans (../shared/reference-plans)", () => {
  const files = referenceDir ? fs.readdirSync(referenceDir).filter((f) => f.endsWith(".json")) : [];
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(referenceDir ?? "", f), "utf8"));
  it("are all there", () => {
    requirePart("reference-plans");
    expect(files.length).toBeGreaterThanOrEqual(12);
  });
  it.each(files)("%s evaluates as valid", (f) => {
    const plan = read(f);
    const sc = evaluatePlan(plan);
    expect(sc.problems).toEqual([]);
    expect(sc.valid).toBe(true);
    expect(sc.decision).toBe(plan.activation.decision);
    expect(validateSchema("scorecard", sc).problems).toEqual([]);
  });
  it("scores differ between reference plans (they measure the plan, not its validity)", () => {
    const averages = new Set(files.map((f) => evaluatePlan(read(f)).score_average));
    expect(averages.size).toBeGreaterThanOrEqual(4);
  });
});

describe("evaluatePlan", () => {
  it("returns a complete, schema-valid scorecard for a valid plan", () => {
    const plan = fixture("activate-pipeline-audit");
    const sc = evaluatePlan(plan);
    expect(validateSchema("scorecard", sc).problems).toEqual([]);
    expect(sc).toMatchObject({
      kind: "scorecard",
      schema_version: "1",
      evaluator_version: EVALUATOR_VERSION,
      source: null,
      plan_schema_version: "0.5",
      plan_id: "api-route-auth-audit",
      plan_digest: digest(plan),
      valid: true,
      decision: "activate",
      downgrade_target: null,
      problems: [],
      score_average: 2,
      summary: { phases: 4, workers: 4, handoffs: 3, verification: 2, risk_gates: 2, repo_bound: true },
    });
    expect(sc.capabilities).toEqual([
      {
        capability: "shell",
        required_by: [
          "/workers/2/tool_permissions/shell",
          "/workers/2/tool_permissions/requires_escalation_for/0",
          "/workers/3/tool_permissions/shell",
          "/workers/3/tool_permissions/requires_escalation_for/1",
        ],
        gates: ["/risk_gates/1"],
      },
      {
        capability: "write",
        required_by: [
          "/workers/3/tool_permissions/write",
          "/workers/3/tool_permissions/requires_escalation_for/0",
          "/surfaces/1/access_mode",
        ],
        gates: ["/risk_gates/0"],
      },
    ]);
  });

  it("is deterministic and records the source only when given", () => {
    const plan = fixture("activate-fanout-research");
    expect(JSON.stringify(evaluatePlan(plan))).toBe(JSON.stringify(evaluatePlan(structuredClone(plan))));
    expect(evaluatePlan(plan, { source: "plans/x.json" }).source).toBe("plans/x.json");
  });

  it("downgrades carry their target and are not scored like workflows", () => {
    const sc = evaluatePlan(fixture("downgrade-simple-plan"));
    expect(sc).toMatchObject({ valid: true, decision: "downgrade", downgrade_target: "simple-plan" });
    expect(sc.scores?.resume_value).toEqual({ score: 1, reason: "a downgrade has nothing to resume" });
  });

  it("an invalid plan has problems with code, pointer, message and hint, and no scores", () => {
    const plan = fixture("activate-pipeline-audit");
    (plan.phases[2] as { depends_on: string[] }).depends_on = ["patch"];
    const sc = evaluatePlan(plan);
    expect(sc.valid).toBe(false);
    expect(sc.decision).toBeNull();
    expect(sc.scores).toBeNull();
    expect(sc.score_average).toBeNull();
    expect(sc.problems).toEqual([
      {
        code: "ERR_PLAN_CYCLE",
        pointer: "/phases/3/depends_on/0",
        message: "phase dependency cycle: refute -> patch -> refute (each depends on the next)",
        hint: planEvaluatorErrors.ERR_PLAN_CYCLE.hint,
      },
      expect.objectContaining({ code: "ERR_PLAN_HANDOFF_DEPENDENCY", pointer: "/handoffs/1/to_phase" }),
    ]);
    expect(validateSchema("scorecard", sc).problems).toEqual([]);
  });

  it.each(["\r", "\n", "\u2028"])(
    "a key holding a line terminator (%j) gets a pointer the scorecard schema accepts",
    (eol) => {
      // Found by the plan fuzzer (seed 151120707): a byte flip turned a key into "\rrequired_fields".
      const plan = fixture("activate-pipeline-audit") as unknown as Record<string, unknown>;
      plan[`${eol}extra`] = true;
      const sc = evaluatePlan(plan);
      expect(sc.problems).toEqual([
        expect.objectContaining({ code: "ERR_PLAN_UNEXPECTED_KEY", pointer: `/${eol}extra` }),
      ]);
      expect(validateSchema("scorecard", sc).problems).toEqual([]);
    },
  );

  it.each([
    [null, "null"],
    ["plan", "string"],
    [42, "number"],
    [[], "a list"],
  ])("a non-object root (%j) is ERR_PLAN_NOT_OBJECT", (value, what) => {
    const sc = evaluatePlan(value);
    expect(sc.problems).toEqual([
      expect.objectContaining({
        code: "ERR_PLAN_NOT_OBJECT",
        pointer: "",
        message: expect.stringContaining(what),
      }),
    ]);
    expect(sc.plan_digest).toBe(digest(value));
    expect(sc.summary).toBeNull();
    expect(validateSchema("scorecard", sc).problems).toEqual([]);
  });

  it("a deeply nested or cyclic in-memory value is ERR_PLAN_TOO_DEEP, without recursion", () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const sc = evaluatePlan({ schema_version: "0.5", x: deep });
    expect(sc.problems).toEqual([expect.objectContaining({ code: "ERR_PLAN_TOO_DEEP" })]);
    expect(sc.problems[0]?.pointer).toBe(`/x${"/0".repeat(31)}`);
    expect(sc.plan_digest).toBeNull();
    const cyclic: Record<string, unknown> = { schema_version: "0.5" };
    cyclic.self = cyclic;
    expect(evaluatePlan(cyclic).problems[0]?.code).toBe("ERR_PLAN_TOO_DEEP");
  });

  it("a value JSON cannot hold is ERR_PLAN_NOT_JSON", () => {
    const sc = evaluatePlan({ schema_version: "0.5", n: Number.NaN });
    expect(sc.problems).toEqual([expect.objectContaining({ code: "ERR_PLAN_NOT_JSON", pointer: "" })]);
    expect(sc.plan_digest).toBeNull();
  });

  it("an unsupported schema_version stops at that one problem", () => {
    const sc = evaluatePlan({ schema_version: "0.7", phases: "not checked" });
    expect(sc.problems.map((p) => `${p.code} ${p.pointer}`)).toEqual([
      "ERR_PLAN_SCHEMA_VERSION /schema_version",
    ]);
    expect(sc.plan_schema_version).toBeNull();
  });

  it("reports every problem, not the first", () => {
    const sc = evaluatePlan({ schema_version: "0.5" });
    expect(sc.problems).toHaveLength(17);
    expect(new Set(sc.problems.map((p) => p.code))).toEqual(new Set(["ERR_PLAN_MISSING_KEY"]));
  });

  it("every catalogue code is exercised by the manifest or these tests", () => {
    const manifest = fs.readFileSync(`${root}fixtures/plan-evaluator/manifest.json`, "utf8");
    const here = fs.readFileSync(fileURLToPath(import.meta.url), "utf8");
    const missing = planEvaluatorErrors
      .list()
      .map((e) => e.code)
      .filter((c) => !manifest.includes(`"${c}`) && !here.includes(`"${c}"`));
    expect(missing).toEqual([]);
  });

  it("EVALUATOR_VERSION is the package version", () => {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(EVALUATOR_VERSION).toBe(pkg.version);
  });
});
