import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { applyPatch, runManifest } from "./run-manifest.js";

const manifest = fileURLToPath(new URL("../../../../fixtures/plan-evaluator/manifest.json", import.meta.url));

describe("plan-evaluator manifest gate", () => {
  it("every case of fixtures/plan-evaluator/manifest.json matches: decision keep", () => {
    const summary = runManifest(manifest);
    expect(validateSchema("manifest-summary", summary).problems).toEqual([]);
    expect(summary.failures).toEqual([]);
    expect(summary.case_count).toBeGreaterThanOrEqual(40);
    expect(summary.passed).toBe(summary.case_count);
    expect(summary.decision).toBe("keep");
  });

  it("a case whose expectation is wrong makes the decision kill", () => {
    const tmp = makeTempDir("dwm-pe-gate-");
    try {
      const m = JSON.parse(fs.readFileSync(manifest, "utf8"));
      const dir = path.dirname(manifest);
      const abs = (c: { plan: string; expect?: unknown }) => ({ ...c, plan: path.join(dir, c.plan) });
      const ok = abs(m.cases.find((c: { id: string }) => c.id === "missing-key"));
      const wrong = abs(m.cases.find((c: { id: string }) => c.id === "dependency-cycle"));
      wrong.expect = { valid: false, problems: ["ERR_PLAN_CYCLE /phases/0/depends_on/0"] };
      const file = path.join(tmp.path, "manifest.json");
      fs.writeFileSync(file, JSON.stringify({ suite_id: "t", cases: [ok, wrong, ok] }));
      const s = runManifest(file);
      expect(s.decision).toBe("kill");
      expect(s.passed).toBe(1);
      expect(s.failures.map((f) => f.id)).toEqual(["dependency-cycle", "missing-key"]);
      expect(s.failures[0]?.message).toContain('expected ["ERR_PLAN_CYCLE /phases/0/depends_on/0"]');
      expect(s.failures[1]?.message).toBe("duplicate case id missing-key");
    } finally {
      tmp.cleanup();
    }
  });

  it("an unreadable manifest is a kill, not a crash", () => {
    const s = runManifest("/nonexistent/manifest.json");
    expect(s.decision).toBe("kill");
    expect(s.failures[0]?.id).toBe("manifest");
  });

  it("applyPatch adds, replaces and removes without touching the input", () => {
    const doc = { a: [1, 2], b: { "c/d": 1 } };
    const out = applyPatch(doc, [
      { op: "add", path: "/a/-", value: 3 },
      { op: "replace", path: "/b/c~1d", value: 2 },
      { op: "remove", path: "/a/0" },
    ]);
    expect(out).toEqual({ a: [2, 3], b: { "c/d": 2 } });
    expect(doc).toEqual({ a: [1, 2], b: { "c/d": 1 } });
    expect(() => applyPatch(doc, [{ op: "remove", path: "/x/y" }])).toThrow("does not exist");
  });
});
