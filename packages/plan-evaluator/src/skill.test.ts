// The skill in skill/ must agree with the schema the evaluator enforces: the generated
// schema reference is current, the pattern headings are the schema's pattern names, and
// every field SKILL.md names in backticks exists in the schema.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { evaluatePlan, planEvaluatorErrors } from "./index.js";
import { renderSchemaReference } from "./internal/schema-doc.js";

const skillDir = fileURLToPath(new URL("../../../skill/", import.meta.url));
const read = (rel: string) => fs.readFileSync(skillDir + rel, "utf8");
const schema = loadSchema("workflow-plan") as { $defs: Record<string, Record<string, unknown>> };

/** Every object and array nested in a value (the value included). */
function parts(v: unknown, out: unknown[] = []): unknown[] {
  if (v !== null && typeof v === "object") {
    out.push(v);
    for (const x of Object.values(v)) parts(x, out);
  }
  return out;
}

/** The ```json blocks of a markdown text, parsed. */
function jsonBlocks(text: string): unknown[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string));
}

function schemaKeys(): Set<string> {
  const keys = new Set<string>();
  for (const d of Object.values(schema.$defs)) {
    for (const k of Object.keys((d.properties as Record<string, unknown> | undefined) ?? {})) keys.add(k);
  }
  return keys;
}

describe("skill/", () => {
  it("references/workflow-plan-schema.md is generated from the schema", () => {
    const file = `${skillDir}references/workflow-plan-schema.md`;
    const want = renderSchemaReference();
    if (process.env.DWM_UPDATE_DOCS === "1") fs.writeFileSync(file, want);
    expect(fs.readFileSync(file, "utf8")).toBe(want);
  });

  it("references/workflow-patterns.md has one heading per schema pattern name, in order", () => {
    const headings = [...read("references/workflow-patterns.md").matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(schema.$defs.PlanPatternName?.enum);
  });

  it("SKILL.md has the skill's name and mentions every top-level key", () => {
    const skill = read("SKILL.md");
    expect(skill).toMatch(/^---\nname: dynamic-workflow-designer\ndescription: .+\n---\n/);
    const top = schema.$defs.WorkflowPlan05?.required as string[];
    expect(schema.$defs.WorkflowPlan06?.required).toEqual(top);
    for (const k of top) expect(skill, k).toContain(`\`${k}\``);
    expect(skill).toContain('`schema_version` `"0.6"`');
  });

  it("every snake_case field SKILL.md names in backticks exists in the schema", () => {
    // Besides plan keys, the skill names the scorecard's metrics and the human_gate phase id.
    const scores = loadSchema("scorecard") as { $defs: { ScorecardScores: { required: string[] } } };
    const keys = new Set([...schemaKeys(), ...scores.$defs.ScorecardScores.required, "human_gate"]);
    const named = new Set(
      [...read("SKILL.md").matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map((m) => m[1] as string),
    );
    expect([...named].filter((k) => !keys.has(k))).toEqual([]);
    expect(named.size).toBeGreaterThan(20);
  });

  it("the enums SKILL.md lists match the schema", () => {
    const skill = read("SKILL.md");
    for (const def of [
      "PlanThreshold",
      "PlanDowngradeTarget",
      "PlanEscalation",
      "PlanArtifactFormat",
      "PlanArtifactFormat06",
      "PlanPhaseKind",
    ]) {
      expect(schema.$defs[def]?.enum, def).toBeInstanceOf(Array);
      for (const v of (schema.$defs[def]?.enum ?? []) as string[])
        expect(skill, `${def} ${v}`).toContain(`\`${v}\``);
    }
    const sd = schema.$defs.PlanSafeDefault as { properties: { action: { enum: string[] } } };
    for (const a of sd.properties.action.enum)
      expect(skill, `safe_default action ${a}`).toContain(`\`${a}\``);
    expect(sd.properties.action.enum).toHaveLength(3);
  });

  it("every 0.6 key is taught with a worked example, each part of one plan the evaluator accepts", () => {
    const skill = read("SKILL.md");
    const section = skill.slice(skill.indexOf("## 3. Schema 0.6"), skill.indexOf("## 4. "));
    const plan = JSON.parse(
      fs.readFileSync(
        new URL("../../../fixtures/plan-evaluator/plans/activate-fanout-0.6.json", import.meta.url),
        "utf8",
      ),
    );
    expect(evaluatePlan(plan).problems).toEqual([]);
    const examples = jsonBlocks(section);
    const inPlan = parts(plan);
    for (const e of examples)
      expect(
        inPlan.some((p) => JSON.stringify(p) === JSON.stringify(e)),
        JSON.stringify(e),
      ).toBe(true);
    // One example at least for each new key and for each way to write it.
    const shown = examples.flatMap((e) => parts(e)) as Record<string, unknown>[];
    const has = (f: (o: Record<string, unknown>) => boolean) => shown.some(f);
    expect(has((o) => Array.isArray((o.command as { run?: unknown } | undefined)?.run))).toBe(true);
    expect(has((o) => typeof (o.command as { run?: unknown } | undefined)?.run === "string")).toBe(true);
    expect(has((o) => o.fan_out !== undefined)).toBe(true);
    expect(has((o) => o.kind === "gate" && Array.isArray(o.review))).toBe(true);
    expect(has((o) => typeof o.safe_default === "object")).toBe(true);
    expect(has((o) => o.format === "json-list")).toBe(true);
    for (const k of Object.keys(schema.$defs.PlanPhase06?.properties ?? {}))
      expect(section.includes(`"${k}"`) || k === "kind" || k === "review", k).toBe(true);
  });

  it("every json block of SKILL.md parses, and every ERR_PLAN_ code it names exists", () => {
    const skill = read("SKILL.md");
    expect(jsonBlocks(skill).length).toBeGreaterThanOrEqual(7);
    const codes = new Set(planEvaluatorErrors.list().map((e) => e.code as string));
    const named = [...skill.matchAll(/`(ERR_PLAN_[A-Z_]+)`/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(15);
    expect(named.filter((c) => !codes.has(c))).toEqual([]);
  });
});
