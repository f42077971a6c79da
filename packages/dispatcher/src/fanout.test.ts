import fs from "node:fs";
import path from "node:path";
import { bubblewrapSandbox } from "@dwm/core";
import { readApprovalPolicy } from "@dwm/gate-resolver";
import { readJournal, verifyRun } from "@dwm/runtime";
import { validateSchema } from "@dwm/schemas";
import { git, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { integrationBranch } from "./integration.js";
import { readAttemptFile } from "./run/store.js";
import { runWorkflow } from "./run-workflow.js";
import { type ExampleRepo, exampleRepo, realPorts } from "./test-support/example.js";
import { decideAsOperator, OPERATOR } from "./test-support/operator.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function approve(runDir: string, gateId: string) {
  // The run stores of these tests lie in <repo>/.dwm/runs/<run>.
  return decideAsOperator(runDir, path.resolve(runDir, "../../.."), { gate: gateId });
}

/** A worktree root, the run dir and the run options (bindings and policy of the example). */
function setup(ex: ExampleRepo) {
  const wt = makeTempDir("dwm-wt-fan-");
  cleanups.push(ex.repo.cleanup, wt.cleanup);
  const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
  const options = {
    repo: ex.repo.path,
    bindings: ex.bindings,
    bindingsDigest: ex.bindingsDigest,
    operator: OPERATOR,
    policy: policy && { policy, name: "dwm.policy.json" },
  };
  return { wt, runDir: ex.compiled.runDir, options };
}

const sandbox = bubblewrapSandbox();
const sandboxProbe = await sandbox.probe();
if (!sandboxProbe.ok && process.env.CI)
  throw new Error(`CI must have a working bubblewrap: ${sandboxProbe.reason}`);

function dispatched(runDir: string): string[] {
  return readJournal(runDir)
    .events.filter((e) => e.type === "packet.dispatched")
    .map((e) => (e.data as { packet_id: string }).packet_id);
}

describe("runWorkflow: fan-out (examples/fan-out)", () => {
  it("expands the list into item packets, runs the per-item pipeline, reduces, stops at the gate phase, completes", async () => {
    const ex = exampleRepo("fan-out");
    const { wt, runDir, options } = setup(ex);
    const first = await runWorkflow(runDir, realPorts({}, wt.path), options);
    expect(validateSchema("run-outcome", first).problems).toEqual([]);
    expect(first.detail).toBe("waiting for a decision on human-gate-accept");
    expect(first.counts).toEqual({ completed: 14, expanded: 2, pending: 1 });
    expect(verifyRun(runDir).problems).toEqual([]);

    const { events } = readJournal(runDir);
    const ex1 = events.find((e) => e.type === "fanout.expanded");
    if (ex1?.type !== "fanout.expanded") throw new Error("no fanout.expanded");
    expect(ex1.data.handoff.items).toBe(6);
    expect(ex1.data.packets).toHaveLength(12);
    expect(ex1.data.files).toHaveLength(12);
    expect(ex1.data.packets[0]?.packet_id).toMatch(/^measure\/architecture-[0-9a-f]{8}$/);
    // every item packet ran exactly once, then the reduce
    const d = dispatched(runDir);
    expect(d.filter((id) => id.startsWith("measure/"))).toHaveLength(6);
    expect(new Set(d).size).toBe(d.length);
    expect(d.at(-1)).toBe("report");

    // the reduce saw every item's grade as one list; the items' outputs are on the integration branch
    const branch = integrationBranch(ex.compiled.runId);
    const report = git(ex.repo.path, "show", `${branch}:reports/summary.md`);
    expect(report).toContain("6 documents graded.");
    expect(report).toMatch(/\| architecture \| 1 \| \d+ \| [ABC] \|/);
    const measured = git(ex.repo.path, "ls-tree", "-r", "--name-only", branch, "measure/").split("\n");
    expect(measured).toHaveLength(6);

    approve(runDir, "human-gate-accept");
    const second = await runWorkflow(runDir, realPorts({}, wt.path), options);
    expect(second.status).toBe("complete");
    expect(second.this_run.attempts).toBe(0);
    expect(verifyRun(runDir).problems).toEqual([]);

    // verify covers the item packet files: a changed byte, or a stray file beside them, is found
    const item = path.join(runDir, "packets", `${ex1.data.packets[0]?.packet_id}.json`);
    const bytes = fs.readFileSync(item);
    fs.writeFileSync(item, bytes.toString().replace('"measure"', '"measurE"'));
    expect(verifyRun(runDir).problems.map((p) => p.code)).toContain("ERR_VERIFY_FILE_DIGEST");
    fs.writeFileSync(item, bytes);
    fs.writeFileSync(path.join(runDir, "packets", "measure", "extra.json"), "{}\n");
    expect(verifyRun(runDir).problems.map((p) => p.code)).toContain("ERR_VERIFY_UNEXPECTED_FILE");
  }, 180_000);

  it.runIf(sandboxProbe.ok)(
    "in the sandbox, runs the command items in one shared read-only view of the commit after the list, and removes it at run end",
    async () => {
      const ex = exampleRepo("fan-out");
      const { wt, runDir, options } = setup(ex);
      const first = await runWorkflow(runDir, { ...realPorts({}, wt.path), sandbox }, options);
      expect(first.detail).toBe("waiting for a decision on human-gate-accept");
      expect(first.counts).toEqual({ completed: 14, expanded: 2, pending: 1 });
      expect(verifyRun(runDir).problems).toEqual([]);
      const events = readJournal(runDir).events;
      const bases = new Map<string, string | null>();
      for (const e of events) {
        if (e.type === "packet.dispatched") bases.set(e.data.packet_id, e.data.base_commit);
      }
      const measures = [...bases.keys()].filter((id) => id.startsWith("measure/"));
      expect(measures).toHaveLength(6);
      // Every measure item starts from one commit (the list merged): one view for all of them.
      expect(new Set(measures.map((id) => bases.get(id))).size).toBe(1);
      for (const id of measures) {
        const a = readAttemptFile(runDir, id, 1);
        expect(a.notes[0]).toMatch(
          /^ran in the shared read-only view of [0-9a-f]{40}: only the output folder /,
        );
        expect(a.changed_files.every((c) => c.path.startsWith(`${id}/`))).toBe(true);
        expect(a.checks.map((c) => c.passed)).toEqual([true]);
      }
      // Measure items that completed while others ran were merged together: fewer merge commits than items.
      const mergedBy = new Map<string, string>();
      for (const e of events) {
        if (e.type === "integration.merged") mergedBy.set(e.data.packet_id, e.data.commit);
      }
      const merges = new Set(measures.map((id) => mergedBy.get(id)));
      expect(merges.has(undefined)).toBe(false);
      expect(merges.size).toBeLessThan(measures.length);
      // The grade items (their worker owns all of grade/) and the reduce keep checkouts of their own.
      const grade = [...bases.keys()].find((id) => id.startsWith("grade/")) ?? "";
      expect(readAttemptFile(runDir, grade, 1).notes.some((n) => n.includes("shared read-only view"))).toBe(
        false,
      );
      const branch = integrationBranch(ex.compiled.runId);
      expect(git(ex.repo.path, "ls-tree", "-r", "--name-only", branch, "measure/").split("\n")).toHaveLength(
        6,
      );
      expect(git(ex.repo.path, "show", `${branch}:reports/summary.md`)).toContain("6 documents graded.");
      // The run's views are gone with the run.
      expect(fs.readdirSync(wt.path).filter((n) => n.startsWith("dwm-views-"))).toEqual([]);
    },
    180_000,
  );

  it("stops at a gate naming the count when the list exceeds max_items; approval expands every item", async () => {
    const ex = exampleRepo("fan-out", [], (plan) => {
      const phases = plan.phases as { id: string; fan_out?: { max_items: number } }[];
      (phases.find((p) => p.id === "measure")?.fan_out as { max_items: number }).max_items = 4;
    });
    const { wt, runDir, options } = setup(ex);
    const first = await runWorkflow(runDir, realPorts({}, wt.path), options);
    expect(first.status).toBe("gate");
    expect(first.waiting_gates.map((g) => [g.gate_id, g.category, g.packets])).toEqual([
      ["fanout-limit/measure/1", "human-review", ["list"]],
    ]);
    let evs = readJournal(runDir).events;
    const opened = evs.find((e) => e.type === "gate.opened");
    expect(opened?.type === "gate.opened" && opened.data.reason).toBe(
      "list listed 6 items in items/documents.json; fan-out measure allows at most 4 without an approval",
    );
    expect(evs.some((e) => e.type === "fanout.expanded")).toBe(false);

    approve(runDir, "fanout-limit/measure/1");
    // One attempt more than the run has used: enough to see the expansion, not to run the items.
    const second = await runWorkflow(runDir, realPorts({}, wt.path), { ...options, maxAttempts: 1 });
    expect(second.status).toBe("budget");
    evs = readJournal(runDir).events;
    const expanded = evs.find((e) => e.type === "fanout.expanded");
    if (expanded?.type !== "fanout.expanded") throw new Error("not expanded");
    expect(expanded.data.limit_gate).toBe("fanout-limit/measure/1");
    expect(expanded.data.handoff.items).toBe(6);
    expect(expanded.data.packets).toHaveLength(12);
    expect(verifyRun(runDir).problems).toEqual([]);
  }, 180_000);
});
