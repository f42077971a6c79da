import { describe, expect, it } from "vitest";
import { categoryFromText, RISK_CATEGORIES, TRIGGER_KEYWORDS } from "./risk.js";

describe("categoryFromText", () => {
  it.each([
    ["write", "write"],
    ["write action", "write"],
    ["write access", "write"],
    ["source edit action", "write"],
    ["shell process", "shell-process"],
    ["shell command execution", "shell-process"],
    ["network", "network"],
    ["network action", "network"],
    ["external-message", "external-message"],
    ["external message", "external-message"],
    ["dependency install", "dependency-install"],
    ["installing dependencies", "dependency-install"],
    ["public API change", "public-api-change"],
    ["history rewrite", "history-rewrite"],
    ["force push", "history-rewrite"],
    ["production deploy", "production-deploy"],
    ["database migrations", "database-migration"],
    ["paid external API use", "paid-api"],
    ["secret access", "secret-access"],
    ["deletion of files", "delete"],
  ])("%s → %s", (text, category) => {
    expect(categoryFromText(text)).toBe(category);
  });

  it.each([
    "manual approval boundary",
    "worker or backend execution",
    "runtime advancement beyond artifact generation",
    "runtime ingestion",
    "shellfish",
    "rewrite-free zone",
  ])("%s names no category", (text) => {
    expect(categoryFromText(text)).toBeNull();
  });

  it("prefers the specific phrase: dependency install is not a write, public API change is not a write", () => {
    expect(categoryFromText("write a dependency install")).toBe("dependency-install");
    expect(categoryFromText("public API change that writes files")).toBe("public-api-change");
  });

  it("every table entry is a risk category and every risk category has phrases", () => {
    const cats = TRIGGER_KEYWORDS.map(([c]) => c);
    expect([...cats].sort()).toEqual([...RISK_CATEGORIES].sort());
  });
});
