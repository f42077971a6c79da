import fs from "node:fs";
import path from "node:path";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../test-support/helpers.js";
import { applyEdits, runManifest } from "./run-manifest.js";

const manifestFile = path.join(FIXTURES_DIR, "manifest.json");

describe("compiler manifest gate", () => {
  it("has at least 25 required cases and decides keep", () => {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
    expect(manifest.required_case_ids.length).toBeGreaterThanOrEqual(25);
    const summary = runManifest(manifestFile);
    expect(validateSchema("manifest-summary", summary).problems).toEqual([]);
    expect(summary.failures).toEqual([]);
    expect(summary.decision).toBe("keep");
    expect(summary.passed + summary.skipped).toBe(summary.case_count);
  }, 240_000);

  it("kills a manifest with a failing, duplicate, unsafe or missing required case", () => {
    const tmp = makeTempDir();
    try {
      fs.mkdirSync(path.join(tmp.path, "plans"));
      fs.copyFileSync(
        path.join(FIXTURES_DIR, "plans/readonly.workflow.plan.json"),
        path.join(tmp.path, "plans/readonly.workflow.plan.json"),
      );
      const plan = "plans/readonly.workflow.plan.json";
      const m = {
        suite_id: "meta",
        required_case_ids: ["ok", "wrong-expectation", "absent"],
        cases: [
          { id: "ok", type: "compile", plan, expect: { packets: ["survey", "check"] } },
          { id: "ok", type: "compile", plan, expect: {} },
          { id: "wrong-expectation", type: "compile", plan, expect: { error: "ERR_PLAN_INVALID" } },
          { id: "../escape", type: "compile", plan, expect: {} },
        ],
      };
      fs.writeFileSync(path.join(tmp.path, "manifest.json"), JSON.stringify(m));
      const s = runManifest(path.join(tmp.path, "manifest.json"));
      expect(s.decision).toBe("kill");
      expect(s.passed).toBe(1);
      expect(s.failures.map((f) => f.id)).toEqual(["ok", "wrong-expectation", "../escape", "absent"]);
      expect(s.failures[1]?.message).toBe('error code: expected "ERR_PLAN_INVALID", got null');
    } finally {
      tmp.cleanup();
    }
  });

  it("applyEdits sets, removes and pushes by JSON pointer without touching the input", () => {
    const v = { a: { b: [1, 2] }, c: 1 };
    expect(
      applyEdits(v, [
        { op: "push", path: "/a/b", value: 3 },
        { op: "remove", path: "/c" },
        { op: "set", path: "/a/x~1y", value: true },
      ]),
    ).toEqual({ a: { b: [1, 2, 3], "x/y": true } });
    expect(v).toEqual({ a: { b: [1, 2] }, c: 1 });
  });
});
