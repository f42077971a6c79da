// The `claude` backend against the real Claude Code (pinned in tools/agent-clis), with the model
// scripted on 127.0.0.1 through a binding's gateway options (base_url, api_key_env, model).
import fs from "node:fs";
import { BACKEND_ENV_NAMES, BASE_ENV_NAMES, runAttempt } from "@dwm/executor";
import type { WorkerBinding } from "@dwm/schemas";
import { type ModelServer, makeGitRepo, makeTempDir, startModelServer, type TempDir } from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { processesWithEnv, realCliOrSkip } from "./harness.js";
import {
  allText,
  CLAUDE_OFFLINE_ENV,
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

const { cli, skipReason } = realCliOrSkip("claude");

describe.skipIf(cli === null)(
  `claude backend, real Claude Code${skipReason ? ` (${skipReason})` : ""}`,
  () => {
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
      store = makeTempDir("dwm-contract-claude-");
    });
    afterEach(() => {
      repo.cleanup();
      store.cleanup();
    });

    const binding = (over: Partial<WorkerBinding> = {}): WorkerBinding => ({
      backend: "claude",
      model: "claude-sonnet-4-5",
      base_url: server.url,
      api_key_env: KEY_ENV,
      ...over,
      env: { ...CLAUDE_OFFLINE_ENV, ...over.env },
    });
    // Claude Code retries a failed request 10 times with backoff by default; the last answer is the same.
    const noRetries = { env: { CLAUDE_CODE_MAX_RETRIES: "0" } };

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
          usage: { input_tokens: 1300, output_tokens: 30 },
        },
        {
          kind: "text",
          text: "Wrote src/hello.txt.",
          usage: { input_tokens: 1400, output_tokens: 20, cached_input_tokens: 100 },
        },
      ]);
      const p = ports(store, "write");
      const req = request(repo.path, packet("write", worker("builder"), "Write src/hello.txt."), binding(), {
        runId: uniqueRunId("claude"),
      });
      const a = await runAttempt(req, p);

      expect(server.problems).toEqual([]);
      expect(a.outcome).toBe("ok");
      expect(a.exit_code).toBe(0);
      expect(a.invocations[0]?.argv).toEqual([
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "acceptEdits",
        "--model",
        "claude-sonnet-4-5",
        "--allowedTools",
        "Bash",
        "--disallowedTools",
        "WebFetch,WebSearch",
      ]);
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
      expect(events[0]).toMatchObject({
        type: "system",
        subtype: "init",
        claude_code_version: cli?.version,
        permissionMode: "acceptEdits",
      });
      const toolUses = events
        .filter((e) => e.type === "assistant")
        .flatMap((e) => (e.message as { content: { type: string; name?: string }[] }).content)
        .filter((c) => c.type === "tool_use")
        .map((c) => c.name);
      expect(toolUses).toEqual(["Write", "Bash"]);
      expect(events.at(-1)).toMatchObject({
        type: "result",
        is_error: false,
        num_turns: 3,
        result: "Wrote src/hello.txt.",
      });

      // Token use: the sums of the script's figures over the three model turns (cost as the CLI computed it).
      const tokens = a.invocations[0]?.tokens;
      expect(tokens).toMatchObject({
        input_tokens: 3900,
        cached_input_tokens: 300,
        output_tokens: 90,
        total_tokens: 3990,
      });
      expect(tokens?.cost_usd).toBeGreaterThan(0);
      expect(a.tokens).toMatchObject({ input_tokens: 3900, cached_input_tokens: 300, output_tokens: 90 });
      expect(a.tokens?.cost_usd).toBeCloseTo(tokens?.cost_usd ?? -1, 6);

      // What the CLI sent the model: the packet prompt, the key, the bound model.
      const sent = server.conversation("messages");
      expect(sent).toHaveLength(3);
      for (const r of sent) {
        expect(r.url).toBe("/v1/messages?beta=true");
        expect(r.userText).toContain(req.prompt.trim());
        expect(r.headers["x-api-key"]).toBe(KEY_VALUE);
        expect((r.body as { model: string }).model).toBe("claude-sonnet-4-5");
      }
      expect(allText(p.attemptDir)).not.toContain(KEY_VALUE);
    });

    it("401 from the endpoint → auth-failed (an infrastructure outcome), nothing changed", async () => {
      server.script([{ kind: "error", status: 401 }]);
      const p = ports(store, "auth");
      const a = await runAttempt(
        request(repo.path, packet("auth", worker("builder"), "Anything."), binding(noRetries), {
          runId: uniqueRunId("claude"),
        }),
        p,
      );
      expect(a.outcome).toBe("auth-failed");
      expect(a.invocations[0]?.detail).toMatch(/Invalid API key/);
      expect(a.changed_files).toEqual([]);
      expect(server.conversation().map((r) => r.answer)).toEqual(["error"]);
    });

    it("401 with Claude Code's own retries left on → stopped at the first retry line as auth-failed, long before the timeout", async () => {
      server.script([{ kind: "error", status: 401 }]);
      const p = ports(store, "auth-retries");
      const started = Date.now();
      const a = await runAttempt(
        request(repo.path, packet("auth-retries", worker("builder"), "Anything."), binding(), {
          runId: uniqueRunId("claude"),
          timeoutMs: 180_000,
        }),
        p,
      );
      // Claude Code alone would retry for minutes (10 retries, growing backoff) before its result line.
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(a.outcome).toBe("auth-failed");
      expect(a.invocations[0]?.timed_out).toBe(false);
      expect(a.invocations[0]?.detail).toMatch(
        /^API Error: 401 from the model endpoint \(Claude Code retry 1 of \d+\)/,
      );
      expect(a.notes.some((n) => n.startsWith("builder: stopped early: API Error: 401"))).toBe(true);
      expect(transcript(p, a).some((e) => e.type === "result")).toBe(false);
      expect(a.changed_files).toEqual([]);
      expect(server.conversation().length).toBeLessThan(4);
    });

    it("429 with retry-after → rate-limited with the advertised delay; the infra-retry path waits at least that long and the retry succeeds", async () => {
      // One retry of its own: Claude Code waits the retry-after (1 s) and says so in a system/api_retry event.
      server.script([
        { kind: "error", status: 429, retryAfterSeconds: 1, times: 2 },
        { kind: "write", path: "src/after.txt", content: "after the rate limit\n" },
        { kind: "text", text: "Done." },
      ]);
      const pk = packet("limited", worker("builder"), "Write src/after.txt.");
      const runId = uniqueRunId("claude");
      const p1 = ports(store, "limited", 1);
      const oneRetry = { env: { CLAUDE_CODE_MAX_RETRIES: "1" } };
      const a = await runAttempt(request(repo.path, pk, binding(oneRetry), { runId }), p1);
      expect(a.outcome).toBe("rate-limited");
      expect(a.invocations[0]?.detail).toMatch(/429/);
      expect(a.retry_after_ms).toBe(1000);
      const limited = server.conversation();
      expect(limited.map((r) => r.answer)).toEqual(["error", "error"]);
      expect((limited[1]?.at ?? 0) - (limited[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);

      // The policy asks for less than the endpoint advertised: the advertised delay wins.
      const { review, delayMs } = await infraRetryAfter(pk, a, p1, 100);
      expect(review.verdict).toBe("infra-failed");
      expect(delayMs).toBe(1000);
      await sleep(delayMs);
      const p2 = ports(store, "limited", 2);
      const b = await runAttempt(request(repo.path, pk, binding(oneRetry), { runId, attempt: 2 }), p2);
      expect(b.outcome).toBe("ok");
      expect(b.changed_files.map((c) => c.path)).toEqual(["src/after.txt"]);
      const all = server.conversation();
      expect(all.map((r) => r.answer)).toEqual(["error", "error", "turn", "turn"]);
      expect((all[2]?.at ?? 0) - (limited[1]?.at ?? 0)).toBeGreaterThanOrEqual(delayMs);
    });

    it("a read-only worker: Claude Code refuses the scripted Write; the executor's check catches what Bash changed", async () => {
      server.script([
        { kind: "write", path: "src/ro.txt", content: "must not exist\n" },
        { kind: "shell", command: "echo sneaky > src/sneaky.txt" },
        { kind: "text", text: "Done reading." },
      ]);
      const p = ports(store, "ro");
      const reader = worker("reader", { write: false });
      const a = await runAttempt(
        request(repo.path, packet("ro", reader, "Read only."), binding(), { runId: uniqueRunId("claude") }),
        p,
      );
      const argv = a.invocations[0]?.argv ?? [];
      expect(argv.slice(5, 7)).toEqual(["--permission-mode", "default"]);
      expect(argv[argv.indexOf("--disallowedTools") + 1]).toBe("Edit,Write,NotebookEdit,WebFetch,WebSearch");
      expect(a.outcome).toBe("ok");
      expect(JSON.stringify(server.conversation()[1]?.body)).toMatch(/No such tool available: Write/);
      expect(a.changed_files.map((c) => c.path)).toEqual(["src/sneaky.txt"]);
      expect(a.findings).toEqual([
        {
          code: "read-only-violation",
          message: "read-only worker reader changed 1 file(s)",
          worker_id: "reader",
          paths: ["src/sneaky.txt"],
        },
      ]);
    });

    it("a hanging model → timeout; the CLI ran with allow-listed variables only and its whole process tree is gone", async () => {
      server.script([{ kind: "hang" }]);
      const p = ports(store, "hang");
      const runId = uniqueRunId("claude");
      const running = runAttempt(
        request(repo.path, packet("hang", worker("builder"), "Wait."), binding(), {
          runId,
          timeoutMs: HANG_TIMEOUT_MS,
        }),
        p,
      );

      await waitFor(() => server.conversation().length > 0, HANG_TIMEOUT_MS, "the CLI's request");
      const pids = processesWithEnv("DWM_RUN_ID", runId);
      expect(pids.length).toBeGreaterThanOrEqual(1);
      const top = topProcesses(pids);
      expect(top).toHaveLength(1);
      const names = envNamesOf(top[0] ?? 0);
      // The base names, Claude Code's own, and the binding's literal `env`.
      const allowed = new Set<string>([
        ...BASE_ENV_NAMES,
        ...BACKEND_ENV_NAMES.claude,
        ...Object.keys(CLAUDE_OFFLINE_ENV),
      ]);
      expect(names.filter((n) => !allowed.has(n) && !n.startsWith("DWM_"))).toEqual([]);
      for (const planted of [...Object.keys(PLANTED), KEY_ENV]) expect(names).not.toContain(planted);
      // The gateway options became Claude Code's own variables.
      expect(names).toEqual(expect.arrayContaining(["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"]));

      const a = await running;
      expect(a.outcome).toBe("timeout");
      expect(a.invocations[0]?.timed_out).toBe(true);
      expect(a.invocations[0]?.env_names).toEqual(names);
      for (const pid of pids) {
        const stat = fs.existsSync(`/proc/${pid}`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : "gone";
        expect(stat).toMatch(/gone|\) Z /);
      }
      expect(processesWithEnv("DWM_RUN_ID", runId)).toEqual([]);
    });

    it("an unreachable endpoint → timeout, nothing left running", async () => {
      server.script([]);
      const p = ports(store, "down");
      const runId = uniqueRunId("claude");
      const a = await runAttempt(
        request(
          repo.path,
          packet("down", worker("builder"), "Anything."),
          binding({ base_url: await unreachableUrl() }),
          {
            runId,
            timeoutMs: 3000,
          },
        ),
        p,
      );
      expect(a.outcome).toBe("timeout");
      expect(processesWithEnv("DWM_RUN_ID", runId)).toEqual([]);
      expect(server.requests).toEqual([]);
    });
  },
);
