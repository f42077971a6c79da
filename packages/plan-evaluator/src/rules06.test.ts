// Schema 0.6 beyond the manifest cases: the version the scorecard reports, what a command
// phase requires, the legacy human_gate phase, the gate categories structured safe
// defaults accept, and the score credit a fan-out earns over repeated phases.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSchema, type PlanPhase06, validateSchema, type WorkflowPlan06 } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { evaluatePlan } from "./index.js";
import { GATE_CATEGORIES } from "./internal/rules06.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const plan06 = () =>
  JSON.parse(
    fs.readFileSync(`${root}fixtures/plan-evaluator/plans/activate-fanout-0.6.json`, "utf8"),
  ) as WorkflowPlan06;

describe("schema 0.6", () => {
  it("a 0.6 plan is read as 0.6 and its scorecard is schema-valid", () => {
    const sc = evaluatePlan(plan06());
    expect(sc).toMatchObject({ valid: true, plan_schema_version: "0.6", decision: "activate", problems: [] });
    expect(validateSchema("scorecard", sc).problems).toEqual([]);
  });

  it("an invalid 0.6 plan still reports the version it read", () => {
    const plan = plan06();
    plan.phases[5] = { ...(plan.phases[5] as PlanPhase06), worker_ids: [] };
    const sc = evaluatePlan(plan);
    expect(sc.problems.map((p) => `${p.code} ${p.pointer}`)).toEqual([
      "ERR_PLAN_PHASE_NO_WORKERS /phases/5/worker_ids",
    ]);
    expect(sc.plan_schema_version).toBe("0.6");
  });

  it("command phases need the shell capability, gated like a shell worker", () => {
    const shell = evaluatePlan(plan06()).capabilities.find((c) => c.capability === "shell");
    expect(shell?.required_by).toEqual([
      "/workers/1/tool_permissions/shell",
      "/workers/1/tool_permissions/requires_escalation_for/0",
      "/workers/2/tool_permissions/shell",
      "/workers/2/tool_permissions/requires_escalation_for/1",
      "/phases/0/command",
      "/phases/3/command",
    ]);
    expect(shell?.gates).toEqual(["/risk_gates/1"]);
  });

  it("the 0.5 human_gate phase id is still honoured in 0.6: it keeps its workers and backs human-gates", () => {
    const plan = plan06();
    plan.patterns = plan.patterns.filter((p) => p !== "Human Gate");
    const gate = plan.phases[4] as PlanPhase06;
    const legacy: PlanPhase06 = { ...gate, id: "human_gate", worker_ids: ["auditor"] };
    delete legacy.kind;
    delete legacy.review;
    plan.phases[4] = legacy;
    plan.phases[5] = { ...(plan.phases[5] as PlanPhase06), depends_on: ["human_gate"] };
    plan.handoffs = plan.handoffs.map((h) => ({
      ...h,
      from_phase: h.from_phase === "approve" ? "human_gate" : h.from_phase,
      to_phase: h.to_phase === "approve" ? "human_gate" : h.to_phase,
    }));
    plan.resume.restart_points = plan.resume.restart_points.map((r) => (r === "approve" ? "human_gate" : r));
    const sc = evaluatePlan(plan);
    expect(sc.problems).toEqual([]);
    expect(sc.scores?.activation_discipline.score).toBe(2);
  });

  it("an explicit gate phase backs the human-gates threshold without the Human Gate pattern", () => {
    const plan = plan06();
    plan.patterns = plan.patterns.filter((p) => p !== "Human Gate");
    expect(evaluatePlan(plan).scores?.activation_discipline.score).toBe(2);
    plan.phases[4] = { ...(plan.phases[4] as PlanPhase06), kind: "work", worker_ids: ["auditor"] };
    delete (plan.phases[4] as PlanPhase06).review;
    const sc = evaluatePlan(plan);
    expect(sc.problems).toEqual([]);
    expect(sc.scores?.activation_discipline).toEqual({
      score: 1,
      reason: "thresholds not backed by the plan's structure: human-gates",
    });
  });

  it("structured safe defaults accept exactly the gate categories of gate.schema.json (and shell)", () => {
    const gate = loadSchema("gate") as { properties: { category: { enum: string[] } } };
    expect([...GATE_CATEGORIES]).toEqual(gate.properties.category.enum);
    const plan = plan06();
    for (const before of [...GATE_CATEGORIES, "shell", "merge-findings"]) {
      plan.risk_gates[0] = { ...plan.risk_gates[0], safe_default: { action: "skip", before } } as never;
      expect(evaluatePlan(plan).problems, before).toEqual([]);
    }
  });

  it("a fan-out scores above the same work written as repeated phases", () => {
    const fanned = evaluatePlan(plan06());
    // The same audit, one phase per package instead of a fan-out over packages.json.
    const plan = plan06();
    const audit = plan.phases[1] as PlanPhase06;
    delete audit.fan_out;
    const copies = ["core", "cli", "schemas"].map(
      (name): PlanPhase06 => ({ ...audit, id: `audit-${name}`, outputs: [`finding-${name}.json`] }),
    );
    plan.phases.splice(1, 1, ...copies);
    plan.phases = plan.phases.map((p) =>
      p.id === "refute-package" ? { ...p, depends_on: copies.map((c) => c.id) } : p,
    );
    plan.handoffs = [
      ...copies.map((c) => ({ ...plan.handoffs[0], to_phase: c.id }) as (typeof plan.handoffs)[number]),
      ...copies.map(
        (c) =>
          ({
            ...plan.handoffs[1],
            from_phase: c.id,
            artifact: c.outputs[0],
          }) as (typeof plan.handoffs)[number],
      ),
      ...plan.handoffs.slice(2),
    ].map((h) => ({ ...h, artifact_schema: { ...h.artifact_schema, format: "json" as const } }));
    plan.resume.restart_points = plan.phases.map((p) => p.id);
    plan.resume.cacheable_outputs = plan.resume.cacheable_outputs.filter((o) => o !== "finding.json");
    const repeated = evaluatePlan(plan);
    expect(repeated.problems.map((p) => p.message)).toEqual([]);
    expect(fanned.scores?.activation_discipline.score).toBe(2);
    expect(repeated.scores?.activation_discipline).toEqual({
      score: 1,
      reason:
        "thresholds not backed by the plan's structure: multi-surface-fanout, planned-fanout (phases audit-core, audit-cli, audit-schemas repeat one step; a fan_out would run it once per item)",
    });
    expect(repeated.score_average).toBeLessThan(fanned.score_average as number);
  });
});
