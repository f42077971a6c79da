// The skill in skill/ must agree with the schema the evaluator enforces: the generated
// schema reference is current, the pattern headings are the schema's pattern names, and
// every field SKILL.md names in backticks exists in the schema.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { renderSchemaReference } from "./internal/schema-doc.js";

const skillDir = fileURLToPath(new URL("../../../skill/", import.meta.url));
const read = (rel: string) => fs.readFileSync(skillDir + rel, "utf8");
const schema = loadSchema("workflow-plan") as { $defs: Record<string, Record<string, unknown>> };

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
    for (const k of top) expect(skill, k).toContain(`\`${k}\``);
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
    for (const def of ["PlanThreshold", "PlanDowngradeTarget", "PlanEscalation", "PlanArtifactFormat"]) {
      expect(schema.$defs[def]?.enum, def).toBeInstanceOf(Array);
      for (const v of (schema.$defs[def]?.enum ?? []) as string[])
        expect(skill, `${def} ${v}`).toContain(`\`${v}\``);
    }
  });
});
