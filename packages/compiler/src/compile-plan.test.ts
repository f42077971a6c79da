import fs from "node:fs";
import path from "node:path";
import { digest, EXIT } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import {
  git,
  leftOut,
  makeGitRepo,
  makeTempDir,
  referencePlansDir,
  requirePart,
  type TempDir,
} from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compilePlan } from "./compile-plan.js";
import { loadRun } from "./load-run.js";
import { activatedReferencePlans, fixturePlan, snapshotTree } from "./test-support/helpers.js";
import { COMPILER_VERSION } from "./version.js";

let repo: TempDir;
beforeEach(() => {
  repo = makeTempDir("dwm-compile-");
});
afterEach(() => repo.cleanup());

const opts = (extra: Record<string, unknown> = {}) => ({ repoRoot: repo.path, baseCommit: null, ...extra });

describe("compilePlan", () => {
  it("writes the whole run store for a plan, with golden digests", () => {
    const plan = fixturePlan("pipeline");
    const c = compilePlan(plan, opts());
    expect(c.runId).toBe("compiler-fixture-pipeline-a8e22652101a");
    expect(c.runDirRel).toBe(".dwm/runs/compiler-fixture-pipeline-a8e22652101a");
    expect(c.created).toBe(true);
    expect(c.changes).toBeNull();
    expect(Object.keys(snapshotTree(c.runDir))).toEqual([
      ".dwm-run",
      "gates/dependency-install.json",
      "gates/external-message.json",
      "gates/human-gate.json",
      "gates/human-review.json",
      "gates/shell-process.json",
      "gates/write.json",
      "packets/human_gate.json",
      "packets/implement.json",
      "packets/review.json",
      "packets/survey.json",
      "plan.json",
      "prompts/human_gate.md",
      "prompts/implement.md",
      "prompts/review.md",
      "prompts/survey.md",
      "run.json",
      "scorecard.json",
    ]);
    expect(c.run.plan_digest).toBe("sha256:a8e22652101a09a38cde69697a1990d56c65d26dfaa42312fd9e6de793787c05");
    expect(c.run.packets.map((p) => [p.packet_id, p.digest, p.prompt_digest, p.depends_on])).toEqual([
      [
        "survey",
        "sha256:1bbf0d719294e61c434c758bd95edc4bf20defbabd7be485636508e26f0cbd84",
        "sha256:d17701b67be3c833338513d4ad843d394890b312c54c4ac0fbabbdaa4131e48f",
        [],
      ],
      [
        "implement",
        "sha256:81e10014473a84c2b6b0c741d316855314543321b729b5be9953673727c16b9e",
        "sha256:5cf3dc46caadddc027eaed615b4f37f3cbf3f8eab0d4d2e8a11ec2b3d0fe4d43",
        ["survey"],
      ],
      [
        "review",
        "sha256:ca47ca0bed80b7c1ed3528a7d3d5880e5aee5b0d8acc4e6c5eaa8b9c76317775",
        "sha256:14d7a31e8e65bfbbfbe95022a454d5dbb97e908a01e4fb3707247c275fdf57c7",
        ["implement"],
      ],
      [
        "human_gate",
        "sha256:a3d0d24a4939b7a915d264e218c50afe860a9e8b3be71fbd2bd046eacf46db8b",
        "sha256:1dda0e9d2f9bc3edd7ea27c64d826ae71a16d41d7ccb113ada774964a8463f0b",
        ["review"],
      ],
    ]);
    expect(c.run.gates.map((g) => [g.gate_id, g.digest])).toEqual([
      ["write", "sha256:c61ad5e17204430b514fbaa2e3f4dd2e0174de0702bbe3ac9759b44d98a36ec8"],
      ["shell-process", "sha256:e4c8c19792adf6b5484f02b7f372c46f53eefa638035259260f991a1b27ea475"],
      ["dependency-install", "sha256:4b5047d1496bce84ed663e78ad79b2f17142a743ac6f301c8f74e2d2815c46d9"],
      ["external-message", "sha256:2d82ec91e2efc3270f12ef4fdf4d284ee401a95ff3b2bd1261a0a959f2d87786"],
      ["human-review", "sha256:d8f25f19472d64ef44f2dc491b0f890e34638f0042fbcc1d12d2ea1a7f8cc5b3"],
      ["human-gate", "sha256:48427585fc74732c16ce3494a0b84f5ba045a4faedb31acbb2ffd29b9e79ef27"],
    ]);
    expect(c.run).toMatchObject({
      revision: 1,
      base_commit: null,
      compiler_version: COMPILER_VERSION,
      plan_schema_version: "0.5",
    });
    expect(validateSchema("run", c.run).problems).toEqual([]);
    // The files are what the result says.
    const runText = fs.readFileSync(path.join(c.runDir, "run.json"), "utf8");
    expect(digest(JSON.parse(runText))).toBe(c.runDigest);
    expect(digest(JSON.parse(fs.readFileSync(path.join(c.runDir, "plan.json"), "utf8")))).toBe(
      c.run.plan_digest,
    );
    expect(digest(JSON.parse(fs.readFileSync(path.join(c.runDir, "scorecard.json"), "utf8")))).toBe(
      c.run.scorecard_digest,
    );
    // The prompt carries the instruction, the first slice and its own packet digest.
    const prompt = fs.readFileSync(path.join(c.runDir, "prompts/survey.md"), "utf8");
    expect(prompt).toContain("Survey the module and write survey.json without changing any file.");
    expect(prompt).toContain(`Packet digest: ${c.run.packets[0]?.digest}`);
    // No staging directory is left behind.
    expect(fs.readdirSync(path.join(repo.path, ".dwm/runs"))).toEqual([c.runId]);
  });

  it("is reproducible: another directory, another time, byte-identical files", () => {
    const a = compilePlan(fixturePlan("pipeline"), opts());
    const other = makeTempDir("dwm-compile-other-");
    try {
      const b = compilePlan(fixturePlan("pipeline"), { repoRoot: other.path, baseCommit: null });
      expect(snapshotTree(b.runDir)).toEqual(snapshotTree(a.runDir));
      expect(b.runDigest).toBe(a.runDigest);
    } finally {
      other.cleanup();
    }
  });

  it("refuses an invalid plan with ERR_PLAN_INVALID carrying the evaluator's problems", () => {
    const plan = fixturePlan("pipeline");
    delete plan.objective;
    let err: unknown;
    try {
      compilePlan(plan, opts());
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "ERR_PLAN_INVALID", exitCode: EXIT.failure });
    const problems = (err as { details: { problems: { code: string; pointer: string }[] } }).details.problems;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.code.startsWith("ERR_PLAN_"))).toBe(true);
    expect(fs.existsSync(path.join(repo.path, ".dwm"))).toBe(false);
  });

  it.skipIf(leftOut("reference-plans"))(
    "refuses a downgrade plan with ERR_PLAN_DOWNGRADE naming the target",
    () => {
      requirePart("reference-plans");
      const plan = JSON.parse(
        fs.readFileSync(path.join(referencePlansDir() ?? "", "downgrade.workflow.plan.json"), "utf8"),
      );
      expect(() => compilePlan(plan, opts())).toThrow(
        expect.objectContaining({
          code: "ERR_PLAN_DOWNGRADE",
          message: expect.stringContaining("direct-codex"),
        }),
      );
    },
  );

  it("records the base commit of a git repository", () => {
    const g = makeGitRepo();
    try {
      const head = git(g.path, "rev-parse", "HEAD");
      const c = compilePlan(fixturePlan("readonly"), { repoRoot: g.path, baseCommit: head });
      expect(c.run.base_commit).toBe(head);
    } finally {
      g.cleanup();
    }
  });

  it("takes a plan gate's category from the evaluator's capability coverage before the keyword table", () => {
    const plan = fixturePlan("readonly") as unknown as Record<string, unknown> & {
      workers: { tool_permissions: { mcp_connectors: string[] } }[];
      risk_gates: unknown[];
    };
    (plan.workers[1] as { tool_permissions: { mcp_connectors: string[] } }).tool_permissions.mcp_connectors =
      ["github"];
    // Token-set containment covers "external message"; the contiguous keyword table alone would not.
    plan.risk_gates.push({
      trigger: "message to external parties",
      safe_default: "stop before messaging and ask for approval",
      requires_user_approval: true,
    });
    const c = compilePlan(plan, opts());
    expect(c.gates.map((g) => [g.gate_id, g.category, g.trigger, g.packets])).toEqual([
      ["external-message", "external-message", "message to external parties", ["check"]],
      ["human-review", "human-review", "manual approval boundary", ["check"]],
    ]);
  });

  describe("store safety", () => {
    it.each([
      ["../outside", "ERR_OUT_PATH_UNSAFE"],
      ["/tmp/abs", "ERR_OUT_PATH_UNSAFE"],
      ["runs/../../x", "ERR_OUT_PATH_UNSAFE"],
    ])("store %s → %s", (storeDir, code) => {
      expect(() => compilePlan(fixturePlan("readonly"), opts({ storeDir }))).toThrow(
        expect.objectContaining({ code }),
      );
    });

    it("refuses a store that goes through a symlink out of the repository", () => {
      const outside = makeTempDir();
      try {
        fs.symlinkSync(outside.path, path.join(repo.path, "escape"));
        expect(() => compilePlan(fixturePlan("readonly"), opts({ storeDir: "escape/runs" }))).toThrow(
          expect.objectContaining({ code: "ERR_OUT_PATH_SYMLINK" }),
        );
        expect(fs.readdirSync(outside.path)).toEqual([]);
      } finally {
        outside.cleanup();
      }
    });

    it("refuses a run directory that is a symlink", () => {
      const c = compilePlan(fixturePlan("readonly"), opts());
      const moved = path.join(repo.path, "moved");
      fs.renameSync(c.runDir, moved);
      fs.symlinkSync(moved, c.runDir);
      expect(() => compilePlan(fixturePlan("readonly"), opts())).toThrow(
        expect.objectContaining({ code: "ERR_OUT_PATH_SYMLINK" }),
      );
    });

    it("never replaces a directory it does not own", () => {
      const plan = fixturePlan("readonly");
      const first = compilePlan(plan, opts());
      fs.rmSync(path.join(first.runDir, ".dwm-run"));
      fs.writeFileSync(path.join(first.runDir, "keep.txt"), "mine");
      expect(() => compilePlan(plan, opts({ runId: first.runId }))).toThrow(
        expect.objectContaining({ code: "ERR_OUT_PATH_NOT_OWNED" }),
      );
      expect(fs.readFileSync(path.join(first.runDir, "keep.txt"), "utf8")).toBe("mine");
    });
  });

  describe("recompile", () => {
    it("recompiling the same plan changes nothing and keeps revision 1", () => {
      const a = compilePlan(fixturePlan("pipeline"), opts());
      const before = snapshotTree(a.runDir);
      const b = compilePlan(fixturePlan("pipeline"), opts());
      expect(b.runId).toBe(a.runId);
      expect(b.created).toBe(false);
      expect(b.run.revision).toBe(1);
      expect(b.changes).toMatchObject({ added: [], changed: [], removed: [], downstream: [] });
      expect(snapshotTree(b.runDir)).toEqual(before);
    });

    it("an edited phase: same run, revision 2, that packet changed, its dependents downstream, others untouched", () => {
      const a = compilePlan(fixturePlan("pipeline"), opts());
      const surveyFile = path.join(a.runDir, "packets/survey.json");
      const inode = fs.statSync(surveyFile).ino;
      const plan = fixturePlan("pipeline");
      (plan.phases[1] as { exit_criteria: string[] }).exit_criteria.push("lint passes");
      const b = compilePlan(plan, opts());
      expect(b.runId).toBe(a.runId);
      expect(b.run.revision).toBe(2);
      expect(b.run.base_commit).toBe(a.run.base_commit);
      expect(b.changes).toEqual({
        added: [],
        changed: ["implement"],
        removed: [],
        downstream: ["review", "human_gate"],
        gates: { added: [], changed: [], removed: [] },
      });
      expect(fs.statSync(surveyFile).ino).toBe(inode);
      expect(loadRun(b.runDir).run.revision).toBe(2);
    });

    it("removing a phase deletes its files; adding one reports it; gate changes are listed", () => {
      const a = compilePlan(fixturePlan("pipeline"), opts());
      const plan = fixturePlan("pipeline");
      // Drop the human gate phase (and the handoff into it), add a read-only phase after review.
      plan.phases = plan.phases.filter((p) => p.id !== "human_gate");
      plan.handoffs = (plan.handoffs as { to_phase: string }[]).filter((h) => h.to_phase !== "human_gate");
      plan.phases.push({
        id: "report",
        name: "Report",
        entry_criteria: ["review.json exists"],
        exit_criteria: ["report.md is written"],
        depends_on: ["review"],
        worker_ids: ["gate-worker"],
        outputs: ["report.md"],
      });
      const b = compilePlan(plan, opts());
      expect(b.changes).toMatchObject({
        added: ["report"],
        removed: ["human_gate"],
        gates: { removed: ["human-gate"] },
      });
      expect(fs.existsSync(path.join(b.runDir, "packets/human_gate.json"))).toBe(false);
      expect(fs.existsSync(path.join(b.runDir, "prompts/human_gate.md"))).toBe(false);
      expect(fs.existsSync(path.join(b.runDir, "gates/human-gate.json"))).toBe(false);
      expect([...loadRun(b.runDir).packets.keys()]).toEqual(["survey", "implement", "review", "report"]);
      expect(a.runId).toBe(b.runId);
    });

    it("refuses to recompile another plan into a run", () => {
      const a = compilePlan(fixturePlan("readonly"), opts());
      expect(() => compilePlan(fixturePlan("pipeline"), opts({ runId: a.runId }))).toThrow(
        expect.objectContaining({ code: "ERR_COMPILE_PLAN_MISMATCH" }),
      );
      expect(loadRun(a.runDir).run.plan_id).toBe("compiler-fixture-readonly");
    });

    it("--new makes a second run; then an ambiguous plan id needs --run", () => {
      const a = compilePlan(fixturePlan("readonly"), opts());
      const edited = fixturePlan("readonly");
      edited.objective = "A different objective.";
      const b = compilePlan(edited, opts({ newRun: true }));
      expect(b.runId).not.toBe(a.runId);
      expect(b.runId).toBe(`compiler-fixture-readonly-${digest(edited).slice(7, 19)}`);
      const again = fixturePlan("readonly");
      again.objective = "A third objective.";
      expect(() => compilePlan(again, opts())).toThrow(
        expect.objectContaining({ code: "ERR_COMPILE_AMBIGUOUS_RUN" }),
      );
      const c = compilePlan(again, opts({ runId: a.runId }));
      expect(c.runId).toBe(a.runId);
      expect(c.run.revision).toBe(2);
    });
  });

  describe.skipIf(leftOut("reference-plans"))("reference plans", () => {
    it("are there, several of them activating", () => {
      requirePart("reference-plans");
      expect(activatedReferencePlans().length).toBeGreaterThan(0);
    });

    it.each(activatedReferencePlans())("%s compiles, twice, to identical bytes", (_name, plan) => {
      const a = compilePlan(plan, opts());
      const first = snapshotTree(a.runDir);
      const other = makeTempDir();
      try {
        const b = compilePlan(structuredClone(plan), { repoRoot: other.path, baseCommit: null });
        expect(snapshotTree(b.runDir)).toEqual(first);
        const again = compilePlan(structuredClone(plan), opts());
        expect(again.changes).toMatchObject({ added: [], changed: [], removed: [], downstream: [] });
        expect(snapshotTree(a.runDir)).toEqual(first);
      } finally {
        other.cleanup();
      }
      const loaded = loadRun(a.runDir);
      expect([...loaded.packets.keys()]).toEqual(a.run.packets.map((p) => p.packet_id));
      expect(loaded.packets.size).toBe((plan as { phases: unknown[] }).phases.length);
    });

    it.each(activatedReferencePlans())(
      "%s: editing one phase changes exactly it and its downstream",
      (_n, plan) => {
        const p = structuredClone(plan) as { phases: { id: string; exit_criteria: string[] }[] };
        const a = compilePlan(p, opts());
        const target = a.run.packets[Math.floor(a.run.packets.length / 2)]?.packet_id as string;
        p.phases.find((x) => x.id === target)?.exit_criteria.push("an extra exit criterion");
        const b = compilePlan(p, opts());
        const dependents = new Set([target]);
        for (const e of a.run.packets)
          if (e.depends_on.some((d) => dependents.has(d))) dependents.add(e.packet_id);
        dependents.delete(target);
        expect(b.changes?.changed).toEqual([target]);
        expect(b.changes?.downstream).toEqual([...dependents]);
        expect(b.changes?.added).toEqual([]);
        expect(b.changes?.removed).toEqual([]);
      },
    );
  });
});
