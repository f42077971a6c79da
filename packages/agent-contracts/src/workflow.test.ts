// examples/agent-pair end to end through DWM's run loop with both real CLIs: Claude Code writes the
// plan, the Codex CLI reads it (a handoff DWM placed in its worktree) and implements it, a human
// accepts. Both models are scripted on one loopback server, bound through the gateway options.
import fs from "node:fs";
import path from "node:path";
import { compilePlan, loadRun } from "@dwm/compiler";
import { bubblewrapSandbox, nodeProcessRunner, readJsonFile } from "@dwm/core";
import { integrationBranch, runWorkflow } from "@dwm/dispatcher";
import { loadWorkerBindings } from "@dwm/executor";
import { buildApproval, readApprovalPolicy, writeApproval } from "@dwm/gate-resolver";
import { foldJournal, readJournal, verifyRun } from "@dwm/runtime";
import type { WorkerBindings } from "@dwm/schemas";
import {
  FakeClock,
  git,
  type ModelServer,
  makeGitRepo,
  makeTempDir,
  startModelServer,
  type TempDir,
  testOperatorKey,
  testTrust,
} from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dwmEnv, REPO_ROOT, realCliOrSkip } from "./harness.js";
import { CLAUDE_OFFLINE_ENV, CODEX_OFFLINE_CONFIG, KEY_ENV, KEY_VALUE } from "./support.js";

const codex = realCliOrSkip("codex");
const claude = realCliOrSkip("claude");
const skip = codex.cli === null || claude.cli === null;
const EXAMPLE = path.join(REPO_ROOT, "examples", "agent-pair");

function copyDir(from: string, to: string): void {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyDir(a, b);
    } else fs.copyFileSync(a, b);
  }
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source the scripted model edits
const OLD_BODY = "  return `Hello, ${name}.`;";
// biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source the scripted model writes
const NEW_BODY = '  return `Hello, ${name}${excited ? "!" : "."}`;';
const PLAN_MD = "# Plan\n\n## Steps\n\n1. Give greet an `excited` option that ends with `!`.\n";

describe.skipIf(skip)("examples/agent-pair with the real Claude Code and Codex CLI", () => {
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

  it("plans with claude, implements with codex, stops at the human gate, completes after approval", async () => {
    const repo: TempDir = makeGitRepo({ ".gitignore": ".dwm/\n" });
    const store = makeTempDir("dwm-contract-flow-");
    cleanups.push(repo.cleanup, store.cleanup);
    copyDir(EXAMPLE, repo.path);
    // The example's bindings, pointed at the scripted endpoint the way a gateway user would.
    const file = path.join(repo.path, "dwm.workers.json");
    const b = readJsonFile(file) as WorkerBindings;
    b.bindings.planner = {
      backend: "claude",
      model: "claude-sonnet-4-5",
      base_url: server.url,
      api_key_env: KEY_ENV,
      env: CLAUDE_OFFLINE_ENV,
      timeout_ms: 60_000,
    };
    b.bindings.implementer = {
      backend: "codex",
      model: "gpt-5.5",
      base_url: server.openaiBaseUrl,
      api_key_env: KEY_ENV,
      config: CODEX_OFFLINE_CONFIG,
      timeout_ms: 60_000,
    };
    fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
    git(repo.path, "add", "-A");
    git(repo.path, "commit", "-q", "-m", "example agent-pair");

    server.script(
      {
        name: "planner",
        dialect: "messages",
        turns: [
          {
            kind: "write",
            path: "notes/plan.md",
            content: PLAN_MD,
            usage: { input_tokens: 900, output_tokens: 60 },
          },
          {
            kind: "text",
            text: "The plan is in notes/plan.md.",
            usage: { input_tokens: 1000, output_tokens: 15 },
          },
        ],
      },
      {
        name: "implementer",
        dialect: "responses",
        turns: [
          {
            kind: "read",
            path: ".dwm-inputs/notes/plan.md",
            usage: { input_tokens: 1500, output_tokens: 20 },
          },
          {
            kind: "edit",
            path: "src/greet.js",
            old: `export function greet(name) {\n${OLD_BODY}\n`,
            new: `export function greet(name, { excited = false } = {}) {\n${NEW_BODY}\n`,
            usage: { input_tokens: 1600, output_tokens: 80 },
          },
          {
            kind: "write",
            path: "notes/change-summary.md",
            content: "# Summary\n\n## Changed\n\n- src/greet.js: `excited` option\n",
            usage: { input_tokens: 1700, output_tokens: 40 },
          },
          { kind: "text", text: "Implemented the plan.", usage: { input_tokens: 1800, output_tokens: 10 } },
        ],
      },
    );

    const compiled = compilePlan(readJsonFile(path.join(repo.path, "workflow.plan.json")), {
      repoRoot: repo.path,
      baseCommit: git(repo.path, "rev-parse", "HEAD"),
    });
    const bindings = loadWorkerBindings(file);
    const policy = readApprovalPolicy(path.join(repo.path, "dwm.policy.json"));
    const options = {
      repo: repo.path,
      operator: { key: testOperatorKey(), trust: testTrust() },
      bindings: bindings.bindings,
      bindingsDigest: bindings.digest,
      policy: policy && { policy, name: "dwm.policy.json" },
    };
    // The OS sandbox on, as `dwm run` runs the workers.
    const ports = () => ({
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      processRunner: nodeProcessRunner,
      env: dwmEnv(path.join(store.path, "home"), { [KEY_ENV]: KEY_VALUE }),
      worktreeRoot: store.path,
      sandbox: bubblewrapSandbox(),
    });

    const first = await runWorkflow(compiled.runDir, ports(), options);
    expect(server.problems).toEqual([]);
    expect(first.detail).toBe("waiting for a decision on human-gate");
    expect(first.status).toBe("gate");
    // Tokens as the two CLIs reported them: the sums of both scripts' figures.
    expect(first.this_run.tokens).toBe(
      900 + 60 + 1000 + 15 + (1500 + 1600 + 1700 + 1800) + (20 + 80 + 40 + 10),
    );
    const events = readJournal(compiled.runDir).events;
    const dispatched = events.flatMap((e) =>
      e.type === "packet.dispatched" ? [`${e.data.packet_id}:${e.data.backend}`] : [],
    );
    expect(dispatched).toEqual(["plan:claude", "implement:codex", "human_gate:shell"]);

    // The Codex CLI really read the handoff Claude Code wrote: its output went back to the model.
    const implementer = server.conversation("responses");
    expect(implementer).toHaveLength(4);
    expect(JSON.stringify(implementer[1]?.body)).toContain("Give greet an `excited` option");
    expect(server.conversation("messages")).toHaveLength(2);

    const loaded = loadRun(compiled.runDir);
    const approval = buildApproval(foldJournal(readJournal(compiled.runDir).events, loaded.run), loaded, {
      gateId: "human-gate",
      decision: "approve",
      reason: "the agents' change is right",
      approver: { name: "Test Operator", source: "os-user" },
      keyId: testOperatorKey().keyId,
      // The human gate is decided on what was merged: the integration branch's head.
      integrationHead: git(repo.path, "rev-parse", `${integrationBranch(compiled.runId)}^{commit}`),
      clock: new FakeClock("2026-01-01T01:00:00.000Z"),
    });
    writeApproval(compiled.runDir, approval, testOperatorKey());
    const second = await runWorkflow(compiled.runDir, ports(), options);
    expect(second.status).toBe("complete");
    expect(second.this_run.attempts).toBe(0);
    expect(verifyRun(compiled.runDir, { trust: testTrust() }).problems).toEqual([]);
    expect(
      readJournal(compiled.runDir)
        .events.filter((e) => e.type === "attempt.recorded")
        .map((e) => e.data.sandbox),
    ).toEqual(["bubblewrap", "bubblewrap", "bubblewrap"]);

    const branch = integrationBranch(compiled.runId);
    expect(git(repo.path, "show", `${branch}:notes/plan.md`)).toBe(PLAN_MD.trimEnd());
    expect(git(repo.path, "show", `${branch}:src/greet.js`)).toContain(NEW_BODY);
    expect(git(repo.path, "show", `${branch}:notes/acceptance.md`)).toContain("`excited` option");
  }, 240_000);
});
