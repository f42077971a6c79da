import fs from "node:fs";
import path from "node:path";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";

const fixture = fs.readFileSync(
  new URL("../../../../fixtures/plan-evaluator/plans/activate-pipeline-audit.json", import.meta.url),
  "utf8",
);

const fixture06 = fs.readFileSync(
  new URL("../../../../fixtures/plan-evaluator/plans/activate-fanout-0.6.json", import.meta.url),
  "utf8",
);

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-evaluate-");
});
afterEach(() => tmp.cleanup());

async function dwm(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd: tmp.path, env: { PATH: process.env.PATH } },
  );
  return { code, stdout, stderr };
}

function write(name: string, content: string | Buffer): string {
  fs.writeFileSync(path.join(tmp.path, name), content);
  return name;
}

describe("dwm evaluate", () => {
  it("exits 0 for a valid plan and prints the decision and scores", async () => {
    const r = await dwm("evaluate", write("plan.json", fixture));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plan api-route-auth-audit (read as schema 0.5) sha256:");
    expect(r.stdout).toContain("valid: activate");
    expect(r.stdout).toMatch(/safety_gating\s+2 /);
    expect(r.stdout).not.toContain("fan-out over");
  });

  it("says which schema version it read: 0.6, 0.5, or none it supports", async () => {
    const r = await dwm("evaluate", write("plan06.json", fixture06));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plan package-license-audit (read as schema 0.6) sha256:");
    expect(r.stdout).toContain(
      [
        "  fan-out over packages.json (key name, at most 40): audit-package -> refute-package, reduce merge-findings",
        "  command phases: list-packages, merge-findings",
        "  gate phases: approve",
      ].join("\n"),
    );
    const j = await dwm("evaluate", "plan06.json", "--json");
    expect(JSON.parse(j.stdout)).toMatchObject({ plan_schema_version: "0.6", valid: true });
    const j5 = await dwm("evaluate", write("plan05.json", fixture), "--json");
    expect(JSON.parse(j5.stdout).plan_schema_version).toBe("0.5");
    const bad = await dwm(
      "evaluate",
      write("v9.json", JSON.stringify({ ...JSON.parse(fixture), schema_version: "9" })),
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("plan api-route-auth-audit (schema version not read) sha256:");
    expect(bad.stdout).toContain("/schema_version  ERR_PLAN_SCHEMA_VERSION");
  });

  it("--json prints a scorecard that validates, with the path as given", async () => {
    const r = await dwm("evaluate", write("plan.json", fixture), "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("scorecard", doc).problems).toEqual([]);
    expect(doc.source).toBe("plan.json");
    expect(doc.valid).toBe(true);
    expect(doc.decision).toBe("activate");
  });

  it("lists every problem of an invalid plan with pointer, code and hint; exit 1", async () => {
    const plan = JSON.parse(fixture);
    plan.phases[1].depends_on = ["nowhere"];
    plan.risk_gates[0].safe_default = "write, then continue";
    delete plan.budget.time_box;
    const r = await dwm("evaluate", write("bad.json", JSON.stringify(plan)));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("INVALID: 4 problems");
    expect(r.stdout).toContain("/budget/time_box  ERR_PLAN_MISSING_KEY");
    expect(r.stdout).toContain("/phases/1/depends_on/0  ERR_PLAN_UNKNOWN_PHASE");
    expect(r.stdout).toContain("/handoffs/0/to_phase  ERR_PLAN_HANDOFF_DEPENDENCY");
    expect(r.stdout).toContain("/risk_gates/0/safe_default  ERR_PLAN_SAFE_DEFAULT");
    expect(r.stdout.match(/ {4}hint: /g)?.length).toBe(4);
    const j = await dwm("evaluate", "bad.json", "--json");
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).problems.map((p: { code: string }) => p.code)).toEqual([
      "ERR_PLAN_MISSING_KEY",
      "ERR_PLAN_UNKNOWN_PHASE",
      "ERR_PLAN_HANDOFF_DEPENDENCY",
      "ERR_PLAN_SAFE_DEFAULT",
    ]);
  });

  it("prints a valid plan's warnings with pointer, code and hint; still exit 0", async () => {
    const plan = JSON.parse(fixture);
    plan.handoffs[1].artifact_schema = {
      format: "markdown",
      required_fields: ["Findings", "one line per finding with its severity and file"],
      validation_command: "test -s findings.json",
    };
    const r = await dwm("evaluate", write("warn.json", JSON.stringify(plan)));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("valid: activate");
    expect(r.stdout).toContain(
      [
        "warnings: 1",
        "  /handoffs/1/artifact_schema/required_fields/1  WARN_PLAN_TEXT_FIELD_PROSE",
        '    required field "one line per finding with its severity and file" of markdown handoff "findings.json" reads as a description (it has 9 words); the review looks for it literally in the file',
      ].join("\n"),
    );
    const j = await dwm("evaluate", "warn.json", "--json");
    expect(JSON.parse(j.stdout).warnings.map((w: { code: string }) => w.code)).toEqual([
      "WARN_PLAN_TEXT_FIELD_PROSE",
    ]);
  });

  it("--render prints the blueprint of a valid plan", async () => {
    const r = await dwm("evaluate", write("plan.json", fixture), "--render");
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("# api-route-auth-audit\n\nObjective: ")).toBe(true);
    expect(r.stdout).toContain(
      "\n## Risk Gates\n\n- write to packages/api: stop before authentication changes",
    );
  });

  it("--render of an invalid plan lists the problems instead; exit 1", async () => {
    const plan = JSON.parse(fixture);
    plan.created_by = "me";
    const r = await dwm("evaluate", write("bad.json", JSON.stringify(plan)), "--render");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("/created_by  ERR_PLAN_CREATED_BY");
    expect(r.stdout).not.toContain("## First Slice");
  });

  it("--render with --json is a usage error", async () => {
    const r = await dwm("evaluate", write("plan.json", fixture), "--render", "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe("ERR_CLI_USAGE");
  });

  it("no argument is a usage error", async () => {
    const r = await dwm("evaluate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ERR_CLI_USAGE");
  });

  it.each([
    ["not JSON", "{ nope", "ERR_PLAN_NOT_JSON"],
    ["a BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(fixture)]), "ERR_PLAN_BOM"],
    ["deep nesting", `${"[".repeat(100000)}${"]".repeat(100000)}`, "ERR_PLAN_TOO_DEEP"],
    ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), "ERR_PLAN_NOT_JSON"],
  ])("%s is a coded error, exit 1, no stack", async (_, content, code) => {
    const r = await dwm("evaluate", write("x.json", content), "--json");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("error-output", doc).ok).toBe(true);
    expect(doc.error.code).toBe(code);
    expect(r.stderr).toContain(`error ${code}: plan x.json `);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a file over the size limit is refused before parsing", async () => {
    // 2 MiB + 1 of spaces: valid JSON whitespace would still be refused by size.
    const r = await dwm("evaluate", write("big.json", `{}${" ".repeat(2 * 1024 * 1024)}`));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error ERR_PLAN_TOO_LARGE:");
  });

  it("a missing file and a non-object root are coded", async () => {
    const missing = await dwm("evaluate", "nope.json");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error ERR_PLAN_UNREADABLE:");
    const arr = await dwm("evaluate", write("a.json", "[1,2]"), "--json");
    expect(arr.code).toBe(1);
    expect(JSON.parse(arr.stdout).problems).toEqual([
      expect.objectContaining({ code: "ERR_PLAN_NOT_OBJECT", pointer: "" }),
    ]);
  });
});
