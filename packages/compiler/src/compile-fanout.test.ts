import fs from "node:fs";
import path from "node:path";
import { isDwmError } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compilePlan } from "./compile-plan.js";
import { loadRun } from "./load-run.js";
import { fixturePlan, snapshotTree } from "./test-support/helpers.js";

let repo: TempDir;
beforeEach(() => {
  repo = makeTempDir("dwm-compile-06-");
});
afterEach(() => repo.cleanup());

const opts = () => ({ repoRoot: repo.path, baseCommit: null });

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isDwmError(e)) return `${e.code} ${JSON.stringify(e.details ?? {})}`;
    throw e;
  }
  return "no error";
}

describe("compilePlan: schema 0.6", () => {
  it("compiles fan-out phases to template packets, command phases to commands, gate phases to human gates", () => {
    const c = compilePlan(fixturePlan("fanout"), opts());
    const byId = new Map(c.packets.map((p) => [p.packet_id, p]));
    expect(c.run.packets.map((p) => p.packet_id)).toEqual(["list", "measure", "grade", "report", "accept"]);
    for (const p of c.packets) expect(validateSchema("packet", p).problems).toEqual([]);

    const template = {
      role: "template",
      over: "items/documents.json",
      key: "id",
      max_items: 500,
      source_packet: "list",
      first: "measure",
      pipeline: ["measure", "grade"],
      reduce: "report",
    };
    expect(byId.get("measure")?.fanout).toEqual({ ...template, position: 0 });
    expect(byId.get("grade")?.fanout).toEqual({ ...template, position: 1 });
    expect(byId.get("list")?.fanout).toBeUndefined();
    expect(byId.get("report")?.fanout).toBeUndefined();
    expect(byId.get("report")?.depends_on).toEqual(["grade"]);
    expect(byId.get("measure")?.inputs).toEqual([
      {
        artifact: "items/documents.json",
        from_packet: "list",
        format: "json-list",
        required_fields: ["id", "path"],
      },
    ]);

    // command phases: argv without a shell, a shell string as a script; no workers
    expect(byId.get("list")?.command).toEqual({ argv: ["node", "scripts/list.mjs"] });
    expect(byId.get("list")?.workers).toEqual([]);
    expect(byId.get("report")?.command).toEqual({ argv: ["node", "scripts/report.mjs"] });

    // the gate phase: a human gate without workers, its review list carried into its gate
    const accept = byId.get("accept");
    expect(accept?.human_gate).toBe(true);
    expect(accept?.completion_gate).toBe("human-gate-accept");
    const gate = c.gates.find((g) => g.gate_id === "human-gate-accept");
    expect(gate?.review).toEqual([
      "accept: review: reports/summary.md on the integration branch",
      "accept: review: the grades of the failing documents",
      "accept: exit criterion: a human accepted the report",
    ]);

    // a structured 0.6 safe default reads as text in the gate
    expect(c.gates.find((g) => g.gate_id === "shell-process")?.safe_default).toBe("ask before shell-process");
    expect(c.gates.find((g) => g.gate_id === "write")?.safe_default).toBe("stop before write");

    // templates carry their gates like any packet (items inherit them)
    expect(byId.get("measure")?.gates).toContain("shell-process");
    expect(c.prompts.get("measure")).toContain("This packet is a template: it never runs itself.");
    expect(c.prompts.get("list")).not.toContain("template");
    expect(loadRun(c.runDir).packets.size).toBe(5);
  });

  it("is reproducible: the same plan compiles to the same bytes in another repository", () => {
    const a = compilePlan(fixturePlan("fanout"), opts());
    const other = makeTempDir("dwm-compile-06b-");
    try {
      const b = compilePlan(fixturePlan("fanout"), { repoRoot: other.path, baseCommit: null });
      expect(snapshotTree(b.runDir)).toEqual(snapshotTree(a.runDir));
      expect(fs.existsSync(path.join(a.runDir, "packets/measure.json"))).toBe(true);
    } finally {
      other.cleanup();
    }
  });

  it("refuses a fan-out whose pipeline holds a gate phase or names no handoff", () => {
    const gated = fixturePlan("fanout");
    const grade = gated.phases.find((p) => p.id === "grade") as Record<string, unknown>;
    Object.assign(grade, { kind: "gate", worker_ids: [], review: ["the grade"] });
    gated.workers = [];
    expect(codeOf(() => compilePlan(gated, opts()))).toMatch(
      /^ERR_PLAN_INVALID .*(ERR_PLAN_FANOUT|ERR_PLAN)/,
    );

    const noSource = fixturePlan("fanout");
    const measure = noSource.phases.find((p) => p.id === "measure") as { fan_out: { over: string } };
    measure.fan_out.over = "items/other.json";
    expect(codeOf(() => compilePlan(noSource, opts()))).toMatch(/^ERR_PLAN_INVALID /);
  });

  it("refuses a shell string command without shell: true", () => {
    const plan = fixturePlan("fanout");
    const list = plan.phases.find((p) => p.id === "list") as Record<string, unknown>;
    list.command = { run: "node scripts/list.mjs" };
    expect(codeOf(() => compilePlan(plan, opts()))).toMatch(/^ERR_PLAN_INVALID /);
  });
});
