import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { evaluatePlan } from "./index.js";
import { proseReason } from "./internal/text-fields.js";

const plansDir = fileURLToPath(new URL("../../../fixtures/plan-evaluator/plans/", import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: the test edits fixture plans freely, as plain JSON
const load = (name: string) => JSON.parse(fs.readFileSync(plansDir + name, "utf8")) as Record<string, any>;

describe("WARN_PLAN_TEXT_FIELD_PROSE", () => {
  it("a markdown handoff whose required field is a description gets a warning; the plan stays valid and scores the same", () => {
    const plan = load("activate-pipeline-audit.json");
    plan.handoffs[1].artifact_schema = {
      format: "markdown",
      required_fields: ["Findings"],
      validation_command: "test -s findings.json",
    };
    const markers = evaluatePlan(plan);
    plan.handoffs[1].artifact_schema.required_fields.push("a list of every finding with its severity");
    const sc = evaluatePlan(plan);
    expect(sc.valid).toBe(true);
    expect(markers.warnings).toBeUndefined();
    expect(sc.scores).toEqual(markers.scores);
    expect(sc.warnings).toEqual([
      {
        code: "WARN_PLAN_TEXT_FIELD_PROSE",
        pointer: "/handoffs/1/artifact_schema/required_fields/1",
        message:
          'required field "a list of every finding with its severity" of markdown handoff "findings.json" reads as a description (it has 8 words); the review looks for it literally in the file',
        hint: "Name a marker the file will contain (markdown: a heading, a `field:` label or `**field**`; other text: a word or line it must include), or make the handoff json, json-list or jsonl and the field a key.",
      },
    ]);
    expect(validateSchema("scorecard", sc).ok).toBe(true);
  });

  it("a plan without warnings has no warnings key (its scorecard is what it was before warnings existed)", () => {
    const sc = evaluatePlan(load("activate-pipeline-audit.json"));
    expect(sc.valid).toBe(true);
    expect("warnings" in sc).toBe(false);
  });

  it("json, json-list and jsonl fields are keys, never warned about", () => {
    const plan = load("activate-fanout-0.6.json");
    for (const h of plan.handoffs) {
      if (["json", "json-list", "jsonl"].includes(h.artifact_schema.format))
        h.artifact_schema.required_fields.push("the list of every route, with owners");
    }
    expect(evaluatePlan(plan).warnings).toBeUndefined();
  });

  it("reads markers as markers and descriptions as descriptions", () => {
    const markers = [
      "Summary",
      "commands_run",
      "accepted v2.5 terminal states",
      "diff --git",
      "FAIL",
      "Call sites left",
    ];
    expect(markers.map(proseReason)).toEqual(markers.map(() => null));
    expect(
      [
        "one line per route with method path and owner",
        "routes, owners",
        "Summarise the risks.",
        "<route>",
        "{owner}",
        "risks ...",
        "the list of routes",
        "each owner",
      ].map(proseReason),
    ).toEqual([
      "it has 9 words",
      "it has sentence punctuation",
      "it has sentence punctuation",
      "it has a placeholder",
      "it has a placeholder",
      "it has a placeholder",
      "it starts like a description",
      "it starts like a description",
    ]);
  });
});
