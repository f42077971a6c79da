import fs from "node:fs";
import type { WorkflowPlan } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { renderBlueprint } from "./index.js";

const load = (name: string) =>
  JSON.parse(
    fs.readFileSync(new URL(`../../../fixtures/plan-evaluator/plans/${name}.json`, import.meta.url), "utf8"),
  ) as WorkflowPlan;

describe("renderBlueprint", () => {
  it("renders the earlier version's format exactly", () => {
    expect(renderBlueprint(load("activate-migration-loop"))).toBe(
      [
        "# fetch-to-http-client-migration",
        "",
        "Objective: Every legacy fetch call replaced by the http client, batch by batch, with the test suite passing after each batch.",
        "Activation: activate (Hundreds of call sites over several sessions; the public API change needs a human decision.)",
        "Patterns: Sequential, Loop Until Dry, Resume And Cache, Human Gate",
        "",
        "## First Slice",
        "",
        "List every call of the legacy fetch wrapper; edit nothing.",
        "",
        "Completion check: call-sites.json parses and its count matches grep -c",
        "",
        "## Risk Gates",
        "",
        "- write to source files: preserve completed batches and ask before writing the next batch",
        "- shell commands (tests): stop before shell commands and ask for approval",
        "- public API change: do not merge public API changes without approval",
        "",
      ].join("\n"),
    );
  });

  it("renders a 0.6 structured safe default as its action and what it comes before", () => {
    expect(renderBlueprint(load("activate-fanout-0.6"))).toContain(
      "## Risk Gates\n\n- write to packages: stop before patch\n- shell command: ask before shell\n",
    );
  });

  it("says none for no patterns and no gates, and ends with one newline", () => {
    const text = renderBlueprint(load("downgrade-simple-plan"));
    expect(text).toContain("\nPatterns: none\n");
    expect(text.endsWith("## Risk Gates\n\n- none\n")).toBe(true);
  });
});
