// The refuting reviewer in `dwm run`: the worker bindings name a reviewer; after DWM's checks
// pass, it reviews each packet in a read-only attempt of its own over the candidate commit, and
// its verdict keeps the result or sends it back. Here a fake Claude Code answers.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NextStep, Review } from "@dwm/schemas";
import {
  type FakeCliScenario,
  FakeClock,
  git,
  makeGitRepo,
  makeTempDir,
  pathWithFakeClis,
  type TempDir,
} from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "../test-support/operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** examples/repo-audit whose bindings name `refuter` (a fake claude) as the reviewer. */
function audit(): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  fs.cpSync(path.join(EXAMPLES, "repo-audit"), repo.path, { recursive: true });
  const file = path.join(repo.path, "dwm.workers.json");
  const b = JSON.parse(fs.readFileSync(file, "utf8"));
  b.bindings.refuter = { backend: "claude", pass_env: ["DWM_FAKE_CLI"] };
  b.reviewer = "refuter";
  fs.writeFileSync(file, JSON.stringify(b, null, 2));
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "audit with a reviewer");
  trustOperator(repo.path);
  return repo;
}

async function dwm(cwd: string, scenario: FakeCliScenario, ...argv: string[]) {
  const wt = makeTempDir("dwm-reviewer-wt-");
  cleanups.push(wt.cleanup);
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: {
        PATH: pathWithFakeClis(process.env.PATH),
        HOME: process.env.HOME,
        TMPDIR: wt.path,
        DWM_FAKE_CLI: JSON.stringify(scenario),
        ...operatorEnv(),
      },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: () => {},
    },
  );
  return { code, stdout, stderr };
}

const runDir = (repo: string) => {
  const runs = path.join(repo, ".dwm", "runs");
  return path.join(runs, fs.readdirSync(runs)[0] as string);
};
const review = (repo: string, packet: string, n: number) =>
  JSON.parse(fs.readFileSync(path.join(runDir(repo), "reviews", packet, `${n}.json`), "utf8")) as Review;
const journal = (repo: string) =>
  fs
    .readFileSync(path.join(runDir(repo), "journal.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });

describe("the refuting reviewer (fake Claude Code)", () => {
  it("agrees: each packet it reviews keeps its approval; its attempt, transcript and verdict are evidence", async () => {
    const repo = audit();
    const r = await dwm(
      repo.path,
      { message: "VERDICT: approved\nThe inventory lists every file." },
      "run",
      "workflow.plan.json",
    );
    expect(r.code).toBe(4);
    const rv = review(repo.path, "inventory", 1);
    expect(rv.verdict).toBe("approved");
    expect(rv.checks.find((c) => c.id === "reviewer-worker")).toMatchObject({ status: "pass" });
    expect(rv.reviewer_worker).toEqual({
      verdict: "approved",
      summary: "The inventory lists every file.",
      worker_id: "refuter",
      transcript: "reviews/inventory/1.reviewer/workers/1-refuter/transcript.jsonl",
      attempt: "reviews/inventory/1.reviewer/attempt.json",
    });
    // Its own attempt: read-only, over the candidate commit, named by packet.reviewed.
    const own = JSON.parse(
      fs.readFileSync(path.join(runDir(repo.path), "reviews/inventory/1.reviewer/attempt.json"), "utf8"),
    );
    expect(own.packet_id).toBe("review/inventory");
    expect(own.base_commit).toBe(
      JSON.parse(fs.readFileSync(path.join(runDir(repo.path), "attempts/inventory/1/attempt.json"), "utf8"))
        .head_commit,
    );
    expect(own.invocations[0].argv).toContain("--disallowedTools");
    expect(own.changed_files).toEqual([]);
    const reviewed = journal(repo.path).find(
      (e) => e.type === "packet.reviewed" && e.data.packet_id === "inventory",
    );
    const named = (reviewed?.data.files ?? []) as { path: string }[];
    expect(named.map((f) => f.path)).toContain("reviews/inventory/1.reviewer/attempt.json");
    expect((await dwm(repo.path, {}, "verify")).code).toBe(0);
  }, 300_000);

  it("refutes: the packet goes back for repair with the reviewer's reasons, and fails when they stay", async () => {
    const repo = audit();
    const r = await dwm(
      repo.path,
      { message: "VERDICT: changes-requested\nThe inventory misses lib/legacy.js." },
      "run",
      "workflow.plan.json",
    );
    expect(r.code).toBe(1);
    const first = review(repo.path, "inventory", 1);
    expect(first.verdict).toBe("changes-requested");
    expect(first.findings.map((f) => [f.code, f.message])).toEqual([
      [
        "REVIEW_WORKER_REFUTED",
        "the reviewer worker refuted the result: The inventory misses lib/legacy.js.",
      ],
    ]);
    // The repair attempt is told why.
    const second = JSON.parse(
      fs.readFileSync(path.join(runDir(repo.path), "attempts/inventory/2/attempt.json"), "utf8"),
    );
    const prompt = fs.readFileSync(
      path.join(runDir(repo.path), "attempts/inventory/2", second.invocations[0].prompt),
      "utf8",
    );
    expect(prompt).toContain(
      "`REVIEW_WORKER_REFUTED` the reviewer worker refuted the result: The inventory misses lib/legacy.js.",
    );
    expect(review(repo.path, "inventory", 2).verdict).toBe("changes-requested");
    expect(journal(repo.path).find((e) => e.type === "packet.failed")?.data.packet_id).toBe("inventory");
    expect((await dwm(repo.path, {}, "verify")).code).toBe(0);
  }, 300_000);

  it("a reviewer that answers no verdict leaves the packet to a human, never approves it", async () => {
    const repo = audit();
    const r = await dwm(repo.path, { message: "I think it is fine." }, "run", "workflow.plan.json");
    expect(r.code).toBe(4);
    const rv = review(repo.path, "inventory", 1);
    expect(rv.verdict).toBe("needs-human");
    expect(rv.findings.map((f) => f.code)).toEqual(["REVIEW_WORKER_UNAVAILABLE"]);
    const next = JSON.parse((await dwm(repo.path, {}, "next", "--json")).stdout) as NextStep;
    expect(next).toMatchObject({ action: "approve-gate", gate_id: "needs-human/inventory/1" });
  }, 300_000);

  it("a 0.6 plan names the reviewer of a phase; the fan-out's item packets get it too", async () => {
    const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
    cleanups.push(repo.cleanup);
    fs.cpSync(path.join(EXAMPLES, "fan-out"), repo.path, { recursive: true });
    const planFile = path.join(repo.path, "workflow.plan.json");
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
    plan.workers.push({
      ...structuredClone(plan.workers[0]),
      id: "refuter",
      role: "Refute a grade",
      ownership: ["nothing/"],
      tool_permissions: {
        mcp_connectors: [],
        network: false,
        read: true,
        requires_escalation_for: [],
        shell: false,
        write: false,
      },
    });
    plan.phases.find((p: { id: string }) => p.id === "grade").reviewer = "refuter";
    fs.writeFileSync(planFile, JSON.stringify(plan, null, 2));
    const bindingsFile = path.join(repo.path, "dwm.workers.json");
    const b = JSON.parse(fs.readFileSync(bindingsFile, "utf8"));
    b.bindings.refuter = { backend: "claude", pass_env: ["DWM_FAKE_CLI"] };
    fs.writeFileSync(bindingsFile, JSON.stringify(b, null, 2));
    git(repo.path, "add", "-A");
    git(repo.path, "commit", "-q", "-m", "grade has a reviewer");
    trustOperator(repo.path);

    const r = await dwm(
      repo.path,
      { message: "VERDICT: approved\nThe grade follows the measure." },
      "run",
      "workflow.plan.json",
    );
    expect(r.code).toBe(4);
    const grades = fs.readdirSync(path.join(runDir(repo.path), "reviews", "grade"));
    expect(grades.length).toBe(6);
    for (const g of grades) {
      const rv = review(repo.path, `grade/${g}`, 1);
      expect(rv.reviewer_worker).toMatchObject({ verdict: "approved", worker_id: "refuter" });
    }
    // Phases without a reviewer (and command phases) are reviewed by DWM's checks alone.
    expect(review(repo.path, "list", 1).reviewer_worker).toBeNull();
    expect((await dwm(repo.path, {}, "verify")).code).toBe(0);
  }, 300_000);
});
