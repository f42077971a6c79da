// The refuting reviewer in DWM's run loop with the real Claude Code: the bindings name a reviewer
// bound to Claude Code (the model scripted on loopback); after DWM's checks pass, it reviews each
// packet of examples/repo-audit in a read-only attempt over the candidate commit. One run where it
// agrees (and reads the candidate's work first), one where it refutes the inventory once.
import fs from "node:fs";
import path from "node:path";
import { compilePlan } from "@dwm/compiler";
import { nodeProcessRunner, readJsonFile } from "@dwm/core";
import { runWorkflow } from "@dwm/dispatcher";
import { loadWorkerBindings } from "@dwm/executor";
import { readApprovalPolicy } from "@dwm/gate-resolver";
import { readJournal, verifyRun } from "@dwm/runtime";
import type { Review, WorkerBindings } from "@dwm/schemas";
import {
  FakeClock,
  git,
  type ModelServer,
  makeGitRepo,
  makeTempDir,
  startModelServer,
  testOperatorKey,
  testTrust,
} from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dwmEnv, REPO_ROOT, realCliOrSkip } from "./harness.js";
import { CLAUDE_OFFLINE_ENV, KEY_ENV, KEY_VALUE } from "./support.js";

const claude = realCliOrSkip("claude");
const EXAMPLE = path.join(REPO_ROOT, "examples", "repo-audit");
const APPROVE = (why: string) => ({ kind: "text" as const, text: `VERDICT: approved\n${why}` });

describe.skipIf(claude.cli === null)(
  `the refuting reviewer, real Claude Code${claude.skipReason ? ` (${claude.skipReason})` : ""}`,
  () => {
    let server: ModelServer;
    const cleanups: (() => void)[] = [];
    beforeAll(async () => {
      server = await startModelServer();
    });
    afterAll(async () => {
      await server.close();
    });
    afterEach(() => {
      for (const c of cleanups.splice(0)) c();
    });

    /** examples/repo-audit whose bindings name `refuter`, Claude Code on the scripted endpoint, as the reviewer. */
    async function run() {
      const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
      const store = makeTempDir("dwm-contract-reviewer-");
      cleanups.push(repo.cleanup, store.cleanup);
      fs.cpSync(EXAMPLE, repo.path, { recursive: true });
      const file = path.join(repo.path, "dwm.workers.json");
      const b = readJsonFile(file) as WorkerBindings;
      b.bindings.refuter = {
        backend: "claude",
        model: "claude-sonnet-4-5",
        base_url: server.url,
        api_key_env: KEY_ENV,
        env: CLAUDE_OFFLINE_ENV,
        timeout_ms: 60_000,
      };
      b.reviewer = "refuter";
      fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
      git(repo.path, "add", "-A");
      git(repo.path, "commit", "-q", "-m", "repo-audit with a reviewer");
      const compiled = compilePlan(readJsonFile(path.join(repo.path, "workflow.plan.json")), {
        repoRoot: repo.path,
        baseCommit: git(repo.path, "rev-parse", "HEAD"),
      });
      const bindings = loadWorkerBindings(file);
      const policy = readApprovalPolicy(path.join(repo.path, "dwm.policy.json"));
      const outcome = await runWorkflow(
        compiled.runDir,
        {
          clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
          processRunner: nodeProcessRunner,
          env: dwmEnv(path.join(store.path, "home"), { [KEY_ENV]: KEY_VALUE }),
          worktreeRoot: store.path,
        },
        {
          repo: repo.path,
          bindings: bindings.bindings,
          bindingsDigest: bindings.digest,
          operator: { key: testOperatorKey(), trust: testTrust() },
          policy: policy && { policy, name: "dwm.policy.json" },
          concurrency: 1,
        },
      );
      const review = (id: string, n: number) =>
        readJsonFile(path.join(compiled.runDir, "reviews", id, `${n}.json`)) as Review;
      return { runDir: compiled.runDir, outcome, review };
    }

    it("agrees after reading the candidate's work: every packet keeps its approval, the run reaches the human gate", async () => {
      server.script({
        name: "refuter",
        dialect: "messages",
        turns: [
          { kind: "read", path: "audit/inventory.json" },
          APPROVE("The inventory lists the files under project/."),
          ...Array.from({ length: 8 }, () => APPROVE("Nothing to refute.")),
        ],
      });
      const r = await run();
      expect(server.problems).toEqual([]);
      expect(r.outcome.status).toBe("gate");
      const inv = r.review("inventory", 1);
      expect(inv.verdict).toBe("approved");
      expect(inv.reviewer_worker).toMatchObject({
        verdict: "approved",
        worker_id: "refuter",
        summary: "The inventory lists the files under project/.",
        attempt: "reviews/inventory/1.reviewer/attempt.json",
      });
      // It read the candidate commit's file: the tool result went back to the model.
      const sent = server.conversation("messages");
      expect(JSON.stringify(sent[1]?.body)).toContain("project/");
      expect(sent[0]?.userText).toContain("Try to refute the result below");
      // Read-only: Claude Code ran without Edit, Write or Bash.
      const own = readJsonFile(path.join(r.runDir, "reviews/inventory/1.reviewer/attempt.json")) as {
        invocations: { argv: string[] }[];
        changed_files: unknown[];
      };
      expect(own.invocations[0]?.argv.join(" ")).toContain("--disallowedTools Edit,Write,NotebookEdit,Bash");
      expect(own.changed_files).toEqual([]);
      expect(verifyRun(r.runDir, { trust: testTrust() }).problems).toEqual([]);
    }, 300_000);

    it("refutes: the inventory is repaired with the reviewer's reasons, then approved", async () => {
      // Only the review of the inventory's first attempt refutes; every other review agrees.
      server.script(
        {
          name: "inventory-1",
          when: "# Review of inventory, attempt 1",
          dialect: "messages",
          turns: [
            {
              kind: "text",
              text: "VERDICT: changes-requested\nThe inventory does not say which files it skipped.",
            },
          ],
        },
        { name: "others", dialect: "messages", turns: [APPROVE("Nothing to refute.")] },
      );
      const r = await run();
      expect(server.problems).toEqual([]);
      expect([r.outcome.status, r.outcome.detail]).toEqual(["gate", "waiting for a decision on human-gate"]);
      const first = r.review("inventory", 1);
      expect(first.verdict).toBe("changes-requested");
      expect(first.findings.map((f) => f.code)).toEqual(["REVIEW_WORKER_REFUTED"]);
      expect(first.reviewer_worker?.summary).toBe("The inventory does not say which files it skipped.");
      const events = readJournal(r.runDir).events;
      expect(
        events
          .filter((e) => e.type === "repair.scheduled")
          .map((e) => (e.data as { packet_id: string }).packet_id),
      ).toEqual(["inventory"]);
      expect(r.review("inventory", 2).verdict).toBe("approved");
      expect(verifyRun(r.runDir, { trust: testTrust() }).problems).toEqual([]);
    }, 300_000);
  },
);
