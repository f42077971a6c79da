import fs from "node:fs";
import path from "node:path";
import { readApprovalPolicy } from "@dwm/gate-resolver";
import { openJournal, readJournal, verifyRun } from "@dwm/runtime";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeTempDir, pathWithFakeClis } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { integrationBranch } from "./integration.js";
import { runWorkflow } from "./run-workflow.js";
import { exampleRepo, realPorts } from "./test-support/example.js";
import { decideAsOperator, OPERATOR } from "./test-support/operator.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function decide(
  runDir: string,
  gateId: string,
  decision: "approve" | "reject" = "approve",
  reason = "looks right",
) {
  // The run stores of these tests lie in <repo>/.dwm/runs/<run>.
  return decideAsOperator(runDir, path.resolve(runDir, "../../.."), { gate: gateId, decision, reason });
}

describe("runWorkflow on examples/repo-audit", () => {
  it("runs the fan-out to the human gate, completes after approval, verifies, and integrates every output", async () => {
    const ex = exampleRepo("repo-audit", ["DWM_SIDE_EFFECT_LOG"]);
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const log = path.join(wt.path, "side-effects.log");
    const runDir = ex.compiled.runDir;
    const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
    const options = {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      operator: OPERATOR,
      policy: policy && { policy, name: "dwm.policy.json" },
    };

    const first = await runWorkflow(runDir, realPorts({ DWM_SIDE_EFFECT_LOG: log }, wt.path), options);
    expect(validateSchema("run-outcome", first).ok).toBe(true);
    expect(first.detail).toBe("waiting for a decision on human-gate");
    expect(first.status).toBe("gate");
    expect(first.exit_code).toBe(4);
    expect(first.waiting_gates.map((g) => g.gate_id)).toEqual(["human-gate"]);
    expect(first.counts).toEqual({ completed: 5, reviewed: 1 });
    expect(first.this_run.approvals).toEqual(["write"]);
    expect(first.next).toEqual(["dwm", "approve", ex.compiled.runId, "human-gate"]);
    expect(verifyRun(runDir).problems).toEqual([]);

    decide(runDir, "human-gate");
    const second = await runWorkflow(runDir, realPorts({ DWM_SIDE_EFFECT_LOG: log }, wt.path), options);
    expect(second.status).toBe("complete");
    expect(second.exit_code).toBe(0);
    expect(second.this_run.attempts).toBe(0);
    expect(second.this_run.approvals).toEqual(["human-gate"]);
    expect(second.counts).toEqual({ completed: 6 });
    const verify = verifyRun(runDir);
    expect(verify.problems).toEqual([]);
    expect(verify.ok).toBe(true);

    // Every packet ran exactly once.
    expect(fs.readFileSync(log, "utf8").trim().split("\n").sort()).toEqual([
      "report",
      "scan_docs",
      "scan_lib",
      "scan_src",
    ]);
    const branch = integrationBranch(ex.compiled.runId);
    const files = git(ex.repo.path, "ls-tree", "-r", "--name-only", branch, "audit/").split("\n");
    expect(files).toEqual([
      "audit/acceptance-request.md",
      "audit/findings-docs.json",
      "audit/findings-lib.json",
      "audit/findings-src.json",
      "audit/inventory.json",
      "audit/report.md",
    ]);
    const report = git(ex.repo.path, "show", `${branch}:audit/report.md`);
    expect(report).toContain("5 finding(s) in 3 area(s): docs 1, lib 1, src 3.");
    expect(second.integration?.commit).toBe(git(ex.repo.path, "rev-parse", branch));
    const types = readJournal(runDir).events.map((e) => e.type);
    expect(types.filter((t) => t === "packet.dispatched")).toHaveLength(6);
    expect(types.filter((t) => t === "integration.merged")).toHaveLength(6);
    expect(types.at(-1)).toBe("run.completed");
  }, 240_000);

  it("a second runner on the same run is refused while the first holds the lock", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const holder = openJournal(ex.compiled.runDir, { clock: new FakeClock() });
    try {
      await expect(
        runWorkflow(ex.compiled.runDir, realPorts(), {
          repo: ex.repo.path,
          bindings: ex.bindings,
          bindingsDigest: ex.bindingsDigest,
          operator: OPERATOR,
        }),
      ).rejects.toMatchObject({ code: "ERR_RUN_LOCKED" });
    } finally {
      holder.close();
    }
  });
});

describe("runWorkflow on examples/api-migration", () => {
  function options(ex: ReturnType<typeof exampleRepo>) {
    const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
    return {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      operator: OPERATOR,
      policy: policy && { policy, name: "dwm.policy.json" },
    };
  }

  it("edits two modules in parallel packets, merges both, and verify runs on the merged branch", async () => {
    const ex = exampleRepo("api-migration");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const out = await runWorkflow(ex.compiled.runDir, realPorts({}, wt.path), options(ex));
    expect(out.detail).toBe("waiting for a decision on human-gate");
    expect(out.counts).toEqual({ completed: 4, reviewed: 1 });
    const branch = integrationBranch(ex.compiled.runId);
    expect(git(ex.repo.path, "show", `${branch}:src/a/orders.js`)).toContain("newApi({ value: order })");
    expect(git(ex.repo.path, "show", `${branch}:src/b/users.js`)).toContain("newApi({ value: email })");
    expect(git(ex.repo.path, "show", `${branch}:migration/report.md`)).toContain(
      "## Call sites left\n\nnone",
    );
    // The two parallel edits were merged with a real merge commit (two parents).
    const merges = git(ex.repo.path, "rev-list", "--merges", branch).split("\n").filter(Boolean);
    expect(merges.length).toBeGreaterThanOrEqual(1);
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
  }, 240_000);

  it("the integration branch moved by someone else mid-run: the runner merges on top of it, nothing lost", async () => {
    const ex = exampleRepo("api-migration");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const branch = integrationBranch(ex.compiled.runId);
    const base = realPorts({}, wt.path);
    const outside: { commit: string | null } = { commit: null };
    const ports = {
      ...base,
      processRunner: {
        async run(req: Parameters<typeof base.processRunner.run>[0]) {
          const r = await base.processRunner.run(req);
          // Right after the runner's first move of the branch, an outside commit lands on it.
          if (
            outside.commit === null &&
            req.argv[1] === "update-ref" &&
            req.argv.includes(`refs/heads/${branch}`)
          ) {
            const head = git(ex.repo.path, "rev-parse", branch);
            const foreign = git(
              ex.repo.path,
              "-c",
              "user.name=Other",
              "-c",
              "user.email=other@example.com",
              "commit-tree",
              `${head}^{tree}`,
              "-p",
              head,
              "-m",
              "outside commit",
            );
            git(ex.repo.path, "update-ref", `refs/heads/${branch}`, foreign, head);
            outside.commit = foreign;
          }
          return r;
        },
      },
    };
    const out = await runWorkflow(ex.compiled.runDir, ports, options(ex));
    expect(out.detail).toBe("waiting for a decision on human-gate");
    expect(outside.commit).not.toBeNull();
    // The outside commit is still on the branch, under every packet's work.
    git(ex.repo.path, "merge-base", "--is-ancestor", String(outside.commit), branch);
    expect(git(ex.repo.path, "show", `${branch}:src/a/orders.js`)).toContain("newApi({ value: order })");
    expect(git(ex.repo.path, "show", `${branch}:src/b/users.js`)).toContain("newApi({ value: email })");
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
  }, 240_000);

  it("a merge conflict opens a gate naming the files and packets, leaves the branch unmerged; rejecting reruns on top", async () => {
    const ex = exampleRepo("api-migration", ["DWM_EXAMPLE_CONFLICT"], (plan) => {
      for (const w of plan.workers as { id: string; ownership: string[] }[])
        if (w.id.startsWith("migrate-")) w.ownership = ["src/", w.ownership[1] as string];
    });
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const runDir = ex.compiled.runDir;
    const ports = () => realPorts({ DWM_EXAMPLE_CONFLICT: "1" }, wt.path);
    const first = await runWorkflow(runDir, ports(), { ...options(ex), concurrency: 2 });
    expect(first.status).toBe("gate");
    const gate = first.waiting_gates[0];
    expect(gate?.gate_id).toMatch(/^merge-conflict\/migrate_[ab]\/1$/);
    const loser = gate?.packets[0] as string;
    const winner = loser === "migrate_a" ? "migrate_b" : "migrate_a";
    const conflict = readJournal(runDir).events.find((e) => e.type === "integration.conflict");
    expect(conflict?.data).toEqual({ packet_id: loser, paths: ["src/shared.js"], gate_id: gate?.gate_id });
    const opened = readJournal(runDir).events.find(
      (e) => e.type === "gate.opened" && e.data.gate_id === gate?.gate_id,
    );
    expect(opened?.type === "gate.opened" && opened.data.reason).toContain(`with the work of ${winner}`);
    // Nothing half-merged: the branch holds the winner's shared.js and not the loser's module.
    const branch = integrationBranch(ex.compiled.runId);
    expect(git(ex.repo.path, "show", `${branch}:src/shared.js`)).toBe(
      `export const owner = "${winner.slice(-1)}";`,
    );
    expect(first.counts.completed).toBe(3);
    expect(verifyRun(runDir).problems).toEqual([]);

    decide(runDir, gate?.gate_id as string, "reject", "redo it on top of the other module");
    const second = await runWorkflow(runDir, ports(), options(ex));
    expect(second.detail).toBe("waiting for a decision on human-gate");
    expect(git(ex.repo.path, "show", `${branch}:src/a/orders.js`)).toContain("newApi(");
    expect(git(ex.repo.path, "show", `${branch}:src/b/users.js`)).toContain("newApi(");
    expect(git(ex.repo.path, "show", `${branch}:src/shared.js`)).toBe(
      `export const owner = "${loser.slice(-1)}";`,
    );
    const dispatched = readJournal(runDir)
      .events.filter((e) => e.type === "packet.dispatched" && e.data.packet_id === loser)
      .map((e) => (e.type === "packet.dispatched" ? e.data.attempt : 0));
    expect(dispatched).toEqual([1, 2]);
    expect(verifyRun(runDir).problems).toEqual([]);
  }, 240_000);
});

describe("runWorkflow on examples/agent-pair (Claude Code and Codex CLI, here the fake CLIs)", () => {
  it("plans with claude, implements with codex, stops at the human gate, completes after approval", async () => {
    const ex = exampleRepo("agent-pair");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const env = {
      PATH: pathWithFakeClis(process.env.PATH),
      DWM_FAKE_CLAUDE: JSON.stringify({
        writes: [{ path: "notes/plan.md", content: "# Plan\n\n## Steps\n\n1. Add an excited option.\n" }],
        usage: { input_tokens: 120, output_tokens: 30 },
      }),
      DWM_FAKE_CODEX: JSON.stringify({
        writes: [
          {
            path: "src/greet.js",
            // The file content is JavaScript source with a template literal in it.
            content: [
              "export function greet(name, { excited = false } = {}) {",
              `  return \`Hello, $\{name}$\{excited ? "!" : "."}\`;`,
              "}",
              "",
            ].join("\n"),
          },
          { path: "notes/change-summary.md", content: "# Summary\n\n## Changed\n\n- src/greet.js\n" },
        ],
        usage: { input_tokens: 200, output_tokens: 50 },
      }),
    };
    const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
    const options = {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      operator: OPERATOR,
      policy: policy && { policy, name: "dwm.policy.json" },
    };
    const first = await runWorkflow(ex.compiled.runDir, realPorts(env, wt.path), options);
    expect(first.detail).toBe("waiting for a decision on human-gate");
    expect(first.this_run.tokens).toBeGreaterThan(0);
    const backends = readJournal(ex.compiled.runDir)
      .events.filter((e) => e.type === "packet.dispatched")
      .map((e) => (e.type === "packet.dispatched" ? `${e.data.packet_id}:${e.data.backend}` : ""));
    expect(backends).toEqual(["plan:claude", "implement:codex", "human_gate:shell"]);
    decide(ex.compiled.runDir, "human-gate");
    const second = await runWorkflow(ex.compiled.runDir, realPorts(env, wt.path), options);
    expect(second.status).toBe("complete");
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
    const branch = integrationBranch(ex.compiled.runId);
    expect(git(ex.repo.path, "show", `${branch}:src/greet.js`)).toContain("excited");
  }, 240_000);
});
