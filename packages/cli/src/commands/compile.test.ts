import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compilePlan } from "@dwm/compiler";
import { acquireLock } from "@dwm/core";
import { openJournal, readJournal } from "@dwm/runtime";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";

const PLAN = fileURLToPath(
  new URL("../../../../fixtures/compiler/plans/pipeline.workflow.plan.json", import.meta.url),
);

let repo: TempDir;
beforeEach(() => {
  repo = makeGitRepo({ "workflow.plan.json": fs.readFileSync(PLAN, "utf8") });
});
afterEach(() => repo.cleanup());

async function dwm(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd: repo.path, env: { PATH: process.env.PATH } },
  );
  return { code, stdout, stderr };
}

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (fs.statSync(path.join(dir, r)).isDirectory()) walk(r);
      else out[r] = fs.readFileSync(path.join(dir, r), "utf8");
    }
  };
  walk("");
  return out;
}

describe("dwm compile", () => {
  it("compiles a plan into .dwm/runs/<run_id> and reports run, packets and gates", async () => {
    const r = await dwm("compile", "workflow.plan.json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Compiled run compiler-fixture-pipeline-a8e22652101a (revision 1)");
    expect(r.stdout).toContain("store:  .dwm/runs/compiler-fixture-pipeline-a8e22652101a");
    expect(r.stdout).toContain(
      "\n  implement   after survey; held by write, shell-process, dependency-install, human-review\n",
    );
    expect(r.stdout).toContain("human-gate [human-review, human-gate-phase] holds human_gate");
    const run = JSON.parse(
      fs.readFileSync(
        path.join(repo.path, ".dwm/runs/compiler-fixture-pipeline-a8e22652101a/run.json"),
        "utf8",
      ),
    );
    expect(run.base_commit).toBe(git(repo.path, "rev-parse", "HEAD"));
  });

  it("--json validates against compile-result; compiling twice gives identical bytes", async () => {
    const a = await dwm("compile", "workflow.plan.json", "--json");
    expect(a.code).toBe(0);
    const doc = JSON.parse(a.stdout);
    expect(validateSchema("compile-result", doc).problems).toEqual([]);
    expect(doc).toMatchObject({
      run_id: "compiler-fixture-pipeline-a8e22652101a",
      run_dir: ".dwm/runs/compiler-fixture-pipeline-a8e22652101a",
      created: true,
      revision: 1,
      changes: null,
    });
    expect(doc.packets.map((p: { packet_id: string }) => p.packet_id)).toEqual([
      "survey",
      "implement",
      "review",
      "human_gate",
    ]);
    const runDir = path.join(repo.path, doc.run_dir);
    const first = tree(runDir);
    const b = await dwm("compile", "workflow.plan.json", "--json");
    const doc2 = JSON.parse(b.stdout);
    expect(doc2).toMatchObject({ created: false, revision: 1, run_digest: doc.run_digest });
    expect(doc2.changes).toEqual({
      added: [],
      changed: [],
      removed: [],
      downstream: [],
      gates: { added: [], changed: [], removed: [] },
    });
    expect(tree(runDir)).toEqual(first);
  });

  it("reports what an edit changed", async () => {
    await dwm("compile", "workflow.plan.json");
    const plan = JSON.parse(fs.readFileSync(path.join(repo.path, "workflow.plan.json"), "utf8"));
    plan.phases[2].exit_criteria.push("a second reviewer agrees");
    fs.writeFileSync(path.join(repo.path, "workflow.plan.json"), JSON.stringify(plan, null, 2));
    const r = await dwm("compile", "workflow.plan.json");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Recompiled run compiler-fixture-pipeline-a8e22652101a (revision 2)");
    expect(r.stdout).toContain("  changed: review\n");
    expect(r.stdout).toContain("  downstream (re-run): human_gate\n");
  });

  it("recompiling a run that has a journal records run.recompiled with the change report", async () => {
    const first = JSON.parse((await dwm("compile", "workflow.plan.json", "--json")).stdout);
    const runDir = path.join(repo.path, first.run_dir);
    openJournal(runDir, { clock: new FakeClock() }).close();
    const plan = JSON.parse(fs.readFileSync(path.join(repo.path, "workflow.plan.json"), "utf8"));
    plan.phases[1].exit_criteria.push("lint passes");
    fs.writeFileSync(path.join(repo.path, "workflow.plan.json"), JSON.stringify(plan, null, 2));
    const r = await dwm("compile", "workflow.plan.json", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const events = readJournal(runDir).events;
    expect(events.map((e) => e.type).filter((t) => t.startsWith("run."))).toEqual([
      "run.opened",
      "run.recompiled",
    ]);
    expect(events.find((e) => e.type === "run.recompiled")?.data).toMatchObject({
      run_digest: doc.run_digest,
      revision: 2,
      changes: { changed: ["implement"], downstream: ["review", "human_gate"] },
    });
    expect(fs.existsSync(path.join(runDir, "lock"))).toBe(false);
  });

  it("a compile that died after writing run.json but before journaling is repaired by the next compile", async () => {
    const first = JSON.parse((await dwm("compile", "workflow.plan.json", "--json")).stdout);
    const runDir = path.join(repo.path, first.run_dir);
    const j = openJournal(runDir, { clock: new FakeClock() });
    const survey = first.packets[0];
    j.append("packet.dispatched", {
      packet_id: "survey",
      attempt: 1,
      packet_digest: survey.digest,
      base_commit: null,
    });
    j.close();
    const plan = JSON.parse(fs.readFileSync(path.join(repo.path, "workflow.plan.json"), "utf8"));
    plan.phases[0].exit_criteria.push("the survey names its sources");
    fs.writeFileSync(path.join(repo.path, "workflow.plan.json"), JSON.stringify(plan));
    // The crash: run.json rewritten, nothing journaled.
    compilePlan(plan, { repoRoot: repo.path, baseCommit: null });
    const r = await dwm("compile", "workflow.plan.json", "--json");
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).changes.changed).toEqual(["survey"]);
    const recompiled = readJournal(runDir).events.find((e) => e.type === "run.recompiled");
    expect(recompiled?.data).toMatchObject({
      changes: { changed: ["survey"], downstream: ["implement", "review", "human_gate"] },
    });
    expect(readJournal(runDir).events.some((e) => e.type === "packet.abandoned")).toBe(true);
  });

  it("a recompile waits for no one: a run locked by a live runner is refused, nothing written", async () => {
    const first = JSON.parse((await dwm("compile", "workflow.plan.json", "--json")).stdout);
    const runDir = path.join(repo.path, first.run_dir);
    const held = acquireLock(path.join(runDir, "lock"), { clock: new FakeClock(), leaseMs: 3_600_000 });
    try {
      const before = fs.readFileSync(path.join(runDir, "run.json"), "utf8");
      const plan = JSON.parse(fs.readFileSync(path.join(repo.path, "workflow.plan.json"), "utf8"));
      plan.phases[0].exit_criteria.push("more");
      fs.writeFileSync(path.join(repo.path, "workflow.plan.json"), JSON.stringify(plan));
      const r = await dwm("compile", "workflow.plan.json");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("ERR_LOCK_HELD");
      expect(fs.readFileSync(path.join(runDir, "run.json"), "utf8")).toBe(before);
    } finally {
      held.release();
    }
  });

  it("--check reports stale artifacts without writing; exit 0 when up to date, 3 when stale", async () => {
    const first = JSON.parse((await dwm("compile", "workflow.plan.json", "--json")).stdout);
    const clean = await dwm("compile", "workflow.plan.json", "--check", "--json");
    expect(clean.code).toBe(0);
    const doc = JSON.parse(clean.stdout);
    expect(validateSchema("run-check", doc).problems).toEqual([]);
    expect(doc).toMatchObject({ ok: true, run_id: first.run_id, invalidators: [] });
    const runDir = path.join(repo.path, first.run_dir);
    fs.appendFileSync(path.join(runDir, "prompts/review.md"), "Also push to main.\n");
    const before = tree(runDir);
    const stale = await dwm("compile", "workflow.plan.json", "--check");
    expect(stale.code).toBe(3);
    expect(stale.stdout).toContain("ERR_RESUME_STALE_PROMPT  prompt review: prompts/review.md has changed");
    expect(tree(runDir)).toEqual(before);
  });

  it("--store is relative to the repository and must stay inside it", async () => {
    const ok = await dwm("compile", "workflow.plan.json", "--store", "runs", "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).run_dir).toBe("runs/compiler-fixture-pipeline-a8e22652101a");
    const abs = await dwm(
      "compile",
      "workflow.plan.json",
      "--store",
      path.join(repo.path, "abs-runs"),
      "--json",
    );
    expect(JSON.parse(abs.stdout).run_dir).toBe("abs-runs/compiler-fixture-pipeline-a8e22652101a");
    for (const store of ["../outside", "/tmp/elsewhere"]) {
      const r = await dwm("compile", "workflow.plan.json", "--store", store);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("ERR_OUT_PATH_UNSAFE");
      expect(r.stderr).toContain("hint:");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("an invalid plan exits 1 with ERR_PLAN_INVALID, an unreadable one with its ERR_PLAN_ code; usage errors exit 2", async () => {
    fs.writeFileSync(path.join(repo.path, "bad.json"), '{"schema_version": "0.5"}');
    const bad = await dwm("compile", "bad.json", "--json");
    expect(bad.code).toBe(1);
    const doc = JSON.parse(bad.stdout);
    expect(validateSchema("error-output", doc).ok).toBe(true);
    expect(doc.error.code).toBe("ERR_PLAN_INVALID");
    expect(doc.error.details.problems.length).toBeGreaterThan(0);
    const missing = await dwm("compile", "nope.json");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("ERR_PLAN_UNREADABLE");
    fs.writeFileSync(path.join(repo.path, "broken.json"), '{"plan_id": ');
    const broken = await dwm("compile", "broken.json");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("ERR_PLAN_NOT_JSON");
    expect((await dwm("compile")).code).toBe(2);
    expect((await dwm("compile", "workflow.plan.json", "--new", "--run", "x")).code).toBe(2);
  });
});
