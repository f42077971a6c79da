// compilePlan killed with SIGKILL at random moments while it writes a new run: the run
// directory is never there half-written. The built compiler (dist; turbo builds before tests)
// runs in a child process; after each kill the store holds either nothing under the run's
// name or a run that loads whole (loadRun checks every digest), and a compile after the crash
// gives the same bytes as one that was never interrupted.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadRun } from "../load-run.js";
import { FIXTURES_DIR, snapshotTree } from "../test-support/helpers.js";

const COMPILER = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-compile-crash-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A valid plan of `n` phases in one chain, a handoff along every edge. */
function chainPlan(n: number): unknown {
  const plan = JSON.parse(
    fs.readFileSync(path.join(FIXTURES_DIR, "plans", "readonly.workflow.plan.json"), "utf8"),
  );
  plan.plan_id = `crash-${n}`;
  const workers = plan.workers.map((w: { id: string }) => w.id);
  const ids = Array.from({ length: n }, (_, i) => `phase-${String(i).padStart(4, "0")}`);
  plan.phases = ids.map((id, i) => ({
    id,
    name: `Phase ${i}`,
    entry_criteria: [`inputs of ${id} are present`],
    exit_criteria: [`${id}.json lists its findings`],
    depends_on: i === 0 ? [] : [ids[i - 1]],
    worker_ids: [workers[i % workers.length]],
    outputs: [`${id}.json`],
  }));
  plan.handoffs = ids.slice(1).map((id, i) => ({
    from_phase: ids[i],
    to_phase: id,
    artifact: `${ids[i]}.json`,
    artifact_schema: { format: "json", required_fields: ["findings"], validation_command: "true" },
  }));
  plan.resume.restart_points = [ids[0]];
  plan.resume.cacheable_outputs = [`${ids[0]}.json`];
  plan.verification = [
    { claim_or_output: "findings", falsifier: "an empty file", evidence_required: [`${ids[0]}.json`] },
  ];
  return plan;
}

const planFile = path.join(tmp, "plan.json");
fs.writeFileSync(planFile, JSON.stringify(chainPlan(400)));

const CHILD = `
import fs from "node:fs";
const { compilePlan } = await import(process.argv[1]);
const r = compilePlan(JSON.parse(fs.readFileSync(process.argv[2], "utf8")), { repoRoot: process.argv[3], baseCommit: null });
process.stdout.write(r.runId);
`;

/** Starts a compile into `repo`; resolves when it exits or, after `killAfterMs`, is killed. */
function compileIn(repo: string, killAfterMs: number | null): Promise<{ killed: boolean; runId: string }> {
  fs.mkdirSync(repo, { recursive: true });
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, COMPILER, planFile, repo]);
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  let killed = false;
  const timer =
    killAfterMs === null
      ? undefined
      : setTimeout(() => {
          killed = child.kill("SIGKILL");
        }, killAfterMs);
  return new Promise((resolve) => {
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ killed: killed && code !== 0, runId: out });
    });
  });
}

/** Every entry of the store: run directories and anything a crash left. */
function storeEntries(repo: string): string[] {
  const store = path.join(repo, ".dwm", "runs");
  return fs.existsSync(store) ? fs.readdirSync(store).sort() : [];
}

describe("a compile killed at a random moment", () => {
  it("leaves no half-written run: the run is absent or whole, and compiling again gives the uninterrupted bytes", async () => {
    const whole = path.join(tmp, "whole");
    const t0 = performance.now();
    const reference = await compileIn(whole, null);
    const took = performance.now() - t0;
    expect(reference.runId).toMatch(/^crash-400-[0-9a-f]{12}$/);
    const runId = reference.runId;
    const expected = snapshotTree(path.join(whole, ".dwm", "runs", runId));
    expect(Object.keys(expected).filter((f) => f.startsWith("packets/"))).toHaveLength(400);

    let absent = 0;
    let complete = 0;
    for (let i = 0; i < 12; i++) {
      const repo = path.join(tmp, `killed-${i}`);
      // Kill moments spread over the whole compile, start-up included.
      const r = await compileIn(repo, Math.floor(Math.random() * took * 1.2));
      const runDir = path.join(repo, ".dwm", "runs", runId);
      const runs = storeEntries(repo).filter((e) => !e.startsWith("."));
      expect(runs.every((e) => e === runId)).toBe(true);
      if (fs.existsSync(runDir)) {
        complete++;
        expect(() => loadRun(runDir)).not.toThrow();
        expect(snapshotTree(runDir)).toEqual(expected);
      } else {
        absent++;
        expect(r.killed).toBe(true);
      }
      // The crash leftover (a dot-named staging folder at most) does not stop the next compile.
      const again = await compileIn(repo, null);
      expect(again.runId).toBe(runId);
      expect(snapshotTree(runDir)).toEqual(expected);
    }
    expect(absent + complete).toBe(12);
  }, 600_000);
});
