// A worker whose packet owns the whole repository adds its own key to dwm.operators.json. Once
// landed, every later run would trust what that key signs. The review stops it for a human
// whatever the ownership, an approval policy that approves every category cannot wave it through,
// and `dwm land` refuses the result without --allow-control-files (and warns with it).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Review, RISK_CATEGORIES } from "@dwm/schemas";
import { git, testOperatorKey, trustTestOperator } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { dwmInProcess, editJson, exampleRepo, journalEvents } from "../test-support/in-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function dwm(cwd: string, ...argv: string[]) {
  const wt = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-control-wt-"));
  cleanups.push(() => fs.rmSync(wt, { recursive: true, force: true }));
  return dwmInProcess(cwd, argv, wt);
}

type Plan = { workers: { id: string; ownership: string[] }[] };

/**
 * examples/repo-audit whose report worker owns `**` and, besides its report, writes over
 * dwm.operators.json a copy that also trusts a key of its own (test key 7); the policy file
 * approves every risk category.
 */
function hostileRepo(): string {
  const repo = exampleRepo("repo-audit", cleanups, (d) => {
    editJson<Plan>(d, "workflow.plan.json", (plan) => {
      const w = plan.workers.find((x) => x.id === "report-worker") as { ownership: string[] };
      w.ownership = ["**"];
    });
    editJson<{ bindings: Record<string, { argv: string[] }> }>(d, "dwm.workers.json", (w) => {
      (w.bindings["report-worker"] as { argv: string[] }).argv = [
        "sh",
        "-c",
        "node scripts/report.mjs && cp scripts/operators.json dwm.operators.json",
      ];
    });
    editJson<{ approve: string[] }>(d, "dwm.policy.json", (p) => {
      p.approve = [...RISK_CATEGORIES];
    });
  }).path;
  // The worker's version of the trust list: the operator's, plus its own key.
  const own = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-control-keys-"));
  cleanups.push(() => fs.rmSync(own, { recursive: true, force: true }));
  fs.copyFileSync(path.join(repo, "dwm.operators.json"), path.join(own, "dwm.operators.json"));
  trustTestOperator(own, testOperatorKey(7), "Worker");
  fs.copyFileSync(path.join(own, "dwm.operators.json"), path.join(repo, "scripts", "operators.json"));
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "the worker's trust list");
  return repo;
}

const GATE = "needs-human/report/1";

describe("a worker that changes DWM's trust files", () => {
  it("is stopped for a human (even with a policy approving everything); landing it needs --allow-control-files", async () => {
    const repo = hostileRepo();
    const first = await dwm(repo, "run", "workflow.plan.json", "--json");
    expect(first.code, first.stderr).toBe(4);
    const runId = JSON.parse(first.stdout).run_id as string;
    const dir = path.join(repo, ".dwm", "runs", runId);
    const review = JSON.parse(
      fs.readFileSync(path.join(dir, "reviews", "report", "1.json"), "utf8"),
    ) as Review;
    expect(review.verdict).toBe("needs-human");
    expect(review.findings.map((f) => [f.code, f.effect, f.message])).toEqual([
      [
        "REVIEW_CONTROL_FILE_CHANGED",
        "human",
        "the attempt changed DWM's own control files: dwm.operators.json (modified)",
      ],
    ]);
    const gate = GATE;
    const decided = () =>
      journalEvents(dir).filter(
        (e) => (e.type === "gate.approved" || e.type === "gate.rejected") && e.data.gate_id === gate,
      );
    expect(journalEvents(dir).some((e) => e.type === "gate.opened" && e.data.gate_id === gate)).toBe(true);
    expect(decided()).toEqual([]);

    // Running again with the policy file (every category) and --approve of every category: still held.
    const again = await dwm(repo, "run", runId, "--approve", RISK_CATEGORIES.join(","), "--json");
    expect(again.code, again.stderr).toBe(4);
    expect(decided()).toEqual([]);
    expect(JSON.parse(again.stdout).waiting_gates.map((g: { gate_id: string }) => g.gate_id)).toContain(gate);
    expect(
      journalEvents(dir).some((e) => e.type === "packet.completed" && e.data.packet_id === "report"),
    ).toBe(false);

    // A human approves it anyway; the run completes.
    expect((await dwm(repo, "approve", runId, gate)).code).toBe(0);
    expect((await dwm(repo, "run", runId)).code).toBe(4);
    expect((await dwm(repo, "approve", runId, "human-gate")).code).toBe(0);
    const done = await dwm(repo, "run", runId);
    expect(done.code, done.stderr).toBe(0);

    // Landing is a second decision: refused without the flag, nothing moves.
    const head = git(repo, "rev-parse", "HEAD");
    const refused = await dwm(repo, "land", runId, "--json");
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("ERR_LAND_CONTROL_FILES");
    expect(JSON.parse(refused.stdout).error.details.files).toEqual(["dwm.operators.json"]);
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);

    const landed = await dwm(repo, "land", runId, "--allow-control-files");
    expect(landed.code, landed.stderr).toBe(0);
    expect(landed.stderr).toContain(
      "warning: landed changes to DWM's control files (--allow-control-files): dwm.operators.json",
    );
    expect(git(repo, "rev-parse", "HEAD")).not.toBe(head);
    expect(fs.readFileSync(path.join(repo, "dwm.operators.json"), "utf8")).toContain('"Worker"');
  }, 600_000);
});
