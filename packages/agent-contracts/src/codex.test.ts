// The `codex` backend against the real Codex CLI (pinned in tools/agent-clis), with the model
// scripted on 127.0.0.1 through a binding's gateway options (base_url, api_key_env, model).
import fs from "node:fs";
import path from "node:path";
import { BACKEND_ENV_NAMES, BASE_ENV_NAMES, runAttempt } from "@dwm/executor";
import type { WorkerBinding } from "@dwm/schemas";
import { type ModelServer, makeGitRepo, makeTempDir, startModelServer, type TempDir } from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { processesWithEnv, realCliOrSkip } from "./harness.js";
import {
  allText,
  CODEX_OFFLINE_CONFIG,
  envNamesOf,
  HANG_TIMEOUT_MS,
  infraRetryAfter,
  KEY_ENV,
  KEY_VALUE,
  PLANTED,
  packet,
  ports,
  readEvidence,
  request,
  sleep,
  topProcesses,
  transcript,
  uniqueRunId,
  unreachableUrl,
  waitFor,
  worker,
} from "./support.js";

const { cli, skipReason } = realCliOrSkip("codex");

describe.skipIf(cli === null)(`codex backend, real Codex CLI${skipReason ? ` (${skipReason})` : ""}`, () => {
  let server: ModelServer;
  let repo: TempDir;
  let store: TempDir;

  beforeAll(async () => {
    server = await startModelServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    repo = makeGitRepo({ "README.md": "# contract\n", "src/keep.txt": "keep\n" });
    store = makeTempDir("dwm-contract-codex-");
  });
  afterEach(() => {
    repo.cleanup();
    store.cleanup();
  });

  // The CLI's own retries (5 reconnects with backoff by default) would only repeat the same
  // final event; turned off here to keep each case at a few seconds.
  const binding = (over: Partial<WorkerBinding> = {}): WorkerBinding => ({
    backend: "codex",
    model: "gpt-5.5",
    base_url: server.openaiBaseUrl,
    api_key_env: KEY_ENV,
    config: [
      ...CODEX_OFFLINE_CONFIG,
      "model_providers.dwm-gateway.request_max_retries=0",
      "model_providers.dwm-gateway.stream_max_retries=0",
    ],
    ...over,
  });

  it("writes a file in the worktree: diff, the CLI's JSON events and the script's token figures are the evidence", async () => {
    server.script([
      {
        kind: "write",
        path: "src/hello.txt",
        content: "hello from the scripted model\n",
        usage: { input_tokens: 1200, output_tokens: 40, cached_input_tokens: 200 },
      },
      {
        kind: "shell",
        command: "printf 'shell\\n' > src/shell.txt",
        usage: { input_tokens: 1300, output_tokens: 30, reasoning_output_tokens: 12 },
      },
      {
        kind: "text",
        text: "Wrote src/hello.txt.",
        usage: { input_tokens: 1400, output_tokens: 20, cached_input_tokens: 100 },
      },
    ]);
    const p = ports(store, "write");
    const req = request(repo.path, packet("write", worker("builder"), "Write src/hello.txt."), binding(), {
      runId: uniqueRunId("codex"),
    });
    const a = await runAttempt(req, p);

    expect(server.problems).toEqual([]);
    expect(a.outcome).toBe("ok");
    expect(a.exit_code).toBe(0);
    expect(a.changed_files).toEqual([
      { path: "src/hello.txt", status: "added", workers: ["builder"] },
      { path: "src/shell.txt", status: "added", workers: ["builder"] },
    ]);
    expect(a.findings).toEqual([]);
    const diff = readEvidence(p, "diff.patch");
    expect(diff).toContain("+hello from the scripted model\n");
    expect(diff).toContain("+shell\n");

    // The transcript is the CLI's own events.
    const events = transcript(p, a);
    const items = events
      .filter((e) => e.type === "item.completed")
      .map((e) => e.item as Record<string, unknown>);
    expect(events[0]?.type).toBe("thread.started");
    expect(items.find((i) => i.type === "file_change")).toMatchObject({ status: "completed" });
    expect(items.find((i) => i.type === "command_execution")).toMatchObject({
      exit_code: 0,
      status: "completed",
    });
    expect(items.at(-1)).toMatchObject({ type: "agent_message", text: "Wrote src/hello.txt." });
    expect(events.at(-1)?.type).toBe("turn.completed");
    expect(
      readEvidence(p, a.invocations[0]?.transcript?.replace("transcript.jsonl", "last-message.md") ?? ""),
    ).toBe("Wrote src/hello.txt.");

    // Token use: the sums of the script's figures over the three model turns.
    const tokens = {
      input_tokens: 3900,
      cached_input_tokens: 300,
      output_tokens: 90,
      reasoning_output_tokens: 12,
      total_tokens: 3990,
    };
    expect(a.invocations[0]?.tokens).toEqual(tokens);
    expect(a.tokens).toEqual(tokens);

    // What the CLI sent the model: the packet prompt, the key as a bearer token, the bound model.
    const sent = server.conversation("responses");
    expect(sent).toHaveLength(3);
    for (const r of sent) {
      expect(r.url).toBe("/v1/responses");
      expect(r.userText).toContain(req.prompt.trim());
      expect(r.headers.authorization).toBe(`Bearer ${KEY_VALUE}`);
      expect((r.body as { model: string }).model).toBe("gpt-5.5");
    }
    // The key never reaches the evidence.
    expect(allText(p.attemptDir)).not.toContain(KEY_VALUE);
    expect(a.invocations[0]?.argv).toContain(
      `model_providers.dwm-gateway.base_url=${JSON.stringify(server.openaiBaseUrl)}`,
    );
  });

  it("401 from the endpoint → auth-failed (an infrastructure outcome), nothing changed", async () => {
    server.script([{ kind: "error", status: 401 }]);
    const p = ports(store, "auth");
    const a = await runAttempt(
      request(repo.path, packet("auth", worker("builder"), "Anything."), binding(), {
        runId: uniqueRunId("codex"),
      }),
      p,
    );
    expect(a.outcome).toBe("auth-failed");
    expect(a.invocations[0]?.detail).toMatch(/401 Unauthorized/);
    // Decided from the transcript's first 401: Codex may be stopped before it exits by itself.
    expect([1, null]).toContain(a.exit_code);
    expect(a.changed_files).toEqual([]);
    expect(server.conversation().map((r) => r.answer)).toEqual(["error"]);
  });

  it("429 → rate-limited; the infra-retry path retries after the policy delay (Codex reports no retry-after) and the retry succeeds", async () => {
    server.script([
      { kind: "error", status: 429, retryAfterSeconds: 1, times: 1 },
      { kind: "write", path: "src/after.txt", content: "after the rate limit\n" },
      { kind: "text", text: "Done." },
    ]);
    const pk = packet("limited", worker("builder"), "Write src/after.txt.");
    const runId = uniqueRunId("codex");
    const p1 = ports(store, "limited", 1);
    const a = await runAttempt(request(repo.path, pk, binding(), { runId }), p1);
    expect(a.outcome).toBe("rate-limited");
    expect(a.invocations[0]?.detail).toMatch(/429 Too Many Requests/);
    expect(a.retry_after_ms).toBeUndefined();

    const { review, delayMs } = await infraRetryAfter(pk, a, p1, 300);
    expect(review.verdict).toBe("infra-failed");
    expect(delayMs).toBe(300);
    await sleep(delayMs);
    const p2 = ports(store, "limited", 2);
    const b = await runAttempt(request(repo.path, pk, binding(), { runId, attempt: 2 }), p2);
    expect(b.outcome).toBe("ok");
    expect(b.changed_files.map((c) => c.path)).toEqual(["src/after.txt"]);
    const sent = server.conversation();
    expect(sent.map((r) => r.answer)).toEqual(["error", "turn", "turn"]);
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(delayMs);
  });

  it("a read-only worker runs with --sandbox read-only: the CLI refuses the scripted writes; the executor's check catches a change the CLI let through", async () => {
    const turns = [
      { kind: "write" as const, path: "src/ro.txt", content: "must not exist\n" },
      { kind: "shell" as const, command: "echo sneaky > src/sneaky.txt" },
      { kind: "text" as const, text: "Done reading." },
    ];
    server.script(turns);
    const p = ports(store, "ro");
    const reader = worker("reader", { write: false });
    const a = await runAttempt(
      request(repo.path, packet("ro", reader, "Read only."), binding(), { runId: uniqueRunId("codex") }),
      p,
    );
    expect(a.invocations[0]?.argv.slice(0, 6)).toEqual([
      "codex",
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--sandbox",
      "read-only",
    ]);
    expect(a.outcome).toBe("ok");
    expect(a.changed_files).toEqual([]);
    expect(a.findings).toEqual([]);
    // The refusals came back to the model as the tools' results.
    const results = server.conversation().map((r) => JSON.stringify(r.body));
    expect(results[1]).toMatch(/writing is blocked by read-only sandbox/);
    expect(results[2]).toMatch(/Read-only file system/);

    // The same worker with a binding that overrides the sandbox: the CLI writes, DWM flags it.
    server.script(turns);
    const p2 = ports(store, "ro", 2);
    const b = await runAttempt(
      request(repo.path, packet("ro", reader, "Read only."), binding({ sandbox: "workspace-write" }), {
        runId: uniqueRunId("codex"),
        attempt: 2,
      }),
      p2,
    );
    expect(b.outcome).toBe("ok");
    expect(b.changed_files.map((c) => c.path)).toEqual(["src/ro.txt", "src/sneaky.txt"]);
    expect(b.findings).toEqual([
      {
        code: "read-only-violation",
        message: "read-only worker reader changed 2 file(s)",
        worker_id: "reader",
        paths: ["src/ro.txt", "src/sneaky.txt"],
      },
    ]);
  });

  it("a hanging model → timeout; the CLI ran with allow-listed variables only and its whole process tree is gone", async () => {
    server.script([{ kind: "hang" }]);
    const p = ports(store, "hang");
    const runId = uniqueRunId("codex");
    const running = runAttempt(
      request(repo.path, packet("hang", worker("builder"), "Wait."), binding(), {
        runId,
        timeoutMs: HANG_TIMEOUT_MS,
      }),
      p,
    );

    // While the CLI waits for the model: its processes, found by DWM_RUN_ID.
    await waitFor(() => server.conversation().length > 0, HANG_TIMEOUT_MS, "the CLI's request");
    const pids = processesWithEnv("DWM_RUN_ID", runId);
    // codex.js (node) starts the native codex as its child; on a Node with process.execve (22.15+,
    // 24) it replaces itself with it instead, and the process then also shows the two variables
    // codex.js adds for the native binary (CODEX_MANAGED_BY_NPM, CODEX_MANAGED_PACKAGE_ROOT). The
    // CLI runs on the node first on PATH: this one.
    const execve = typeof (process as { execve?: unknown }).execve === "function";
    expect(pids.length).toBeGreaterThanOrEqual(execve ? 1 : 2);
    const top = topProcesses(pids);
    expect(top).toHaveLength(1);
    const names = envNamesOf(top[0] ?? 0).filter((n) => !(execve && n.startsWith("CODEX_MANAGED_")));
    const allowed = new Set<string>([...BASE_ENV_NAMES, ...BACKEND_ENV_NAMES.codex, KEY_ENV]);
    expect(names.filter((n) => !allowed.has(n) && !n.startsWith("DWM_"))).toEqual([]);
    for (const planted of Object.keys(PLANTED)) expect(names).not.toContain(planted);
    expect(names).toContain(KEY_ENV);

    const a = await running;
    expect(a.outcome).toBe("timeout");
    expect(a.invocations[0]?.timed_out).toBe(true);
    expect(a.invocations[0]?.env_names).toEqual(names);
    for (const pid of pids)
      expect(fs.existsSync(`/proc/${pid}`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : "gone").toMatch(
        /gone|\) Z /,
      );
    expect(processesWithEnv("DWM_RUN_ID", runId)).toEqual([]);
  });

  it("an unreachable endpoint → timeout, nothing left running", async () => {
    server.script([]);
    const p = ports(store, "down");
    const runId = uniqueRunId("codex");
    const a = await runAttempt(
      request(
        repo.path,
        packet("down", worker("builder"), "Anything."),
        binding({ base_url: `${await unreachableUrl()}/v1` }),
        { runId, timeoutMs: 2500 },
      ),
      p,
    );
    expect(a.outcome).toBe("timeout");
    expect(a.invocations[0]?.timed_out).toBe(true);
    expect(processesWithEnv("DWM_RUN_ID", runId)).toEqual([]);
    expect(server.requests).toEqual([]);
    expect(fs.existsSync(path.join(p.attemptDir, "attempt.json"))).toBe(true);
  });
});
