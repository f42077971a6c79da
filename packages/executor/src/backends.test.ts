import fs from "node:fs";
import path from "node:path";
import type { WorkerBinding } from "@dwm/schemas";
import { type FakeCliScenario, git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "./run-attempt.js";
import { allText, packet, ports, request, snapshot, worker } from "./test-support/builders.js";

let repo: TempDir;
let store: TempDir;

beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# demo\n", "src/main.txt": "main\n" });
  store = makeTempDir("dwm-exec-");
});
afterEach(() => {
  repo.cleanup();
  store.cleanup();
});

const scenario = (s: FakeCliScenario) => ({ DWM_FAKE_CLI: JSON.stringify(s) });
const codex: WorkerBinding = { backend: "codex", pass_env: ["DWM_FAKE_CLI"] };
const claude: WorkerBinding = { backend: "claude", pass_env: ["DWM_FAKE_CLI"] };
const writes = [
  { path: "src/app.txt", content: "app\n" },
  { path: "report.md", content: "# report\n" },
];

function alive(pid: number): boolean {
  // A zombie (exited, never reaped by this container's init) is not running.
  try {
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return false;
  } catch {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("codex backend (fake CLI)", () => {
  it("runs codex exec with the documented flags, the prompt on stdin, and parses the JSON events", async () => {
    const rec = path.join(store.path, "codex-call.json");
    const p = ports(store, scenario({ writes, recordFile: rec }));
    const a = await runAttempt(request(repo.path, packet(), { builder: { ...codex, model: "gpt-5" } }), p);
    expect(a.outcome).toBe("ok");
    const inv = a.invocations[0];
    expect(inv?.argv).toEqual([
      "codex",
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--sandbox",
      "workspace-write",
      "--model",
      "gpt-5",
      "--output-last-message",
      "{last_message_file}",
      "-",
    ]);
    expect(inv?.stdin).toBe("prompt");
    expect(inv?.tokens).toEqual({
      input_tokens: 1200,
      cached_input_tokens: 200,
      output_tokens: 300,
      reasoning_output_tokens: 50,
      total_tokens: 1500,
    });
    expect(a.tokens).toEqual(inv?.tokens);
    const call = JSON.parse(fs.readFileSync(rec, "utf8")) as {
      stdin: string;
      cwd: string;
      env_names: string[];
    };
    expect(call.stdin).toBe("# build\n\nWrite src/app.txt and report.md.\n");
    expect(call.cwd).not.toBe(repo.path);
    expect(call.env_names).not.toContain("DWM_OUTPUT_DIR");
    const transcript = fs
      .readFileSync(path.join(p.attemptDir, "workers/1-builder/transcript.jsonl"), "utf8")
      .split("\n");
    expect(transcript.filter(Boolean).map((l) => (JSON.parse(l) as { type: string }).type)).toEqual([
      "thread.started",
      "turn.started",
      "item.started",
      "item.completed",
      "item.started",
      "item.completed",
      "item.completed",
      "turn.completed",
    ]);
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/last-message.md"), "utf8")).toBe(
      "Done.\n",
    );
    expect(a.changed_files.map((c) => c.path)).toEqual(["report.md", "src/app.txt"]);
  });

  it("a read-only worker gets the read-only sandbox, so the fake writes nothing", async () => {
    const p = ports(store, scenario({ writes }));
    const pk = packet({ workers: [worker("reader", {}, { write: false })], outputs: [] });
    const a = await runAttempt(request(repo.path, pk, { reader: codex }), p);
    expect(a.invocations[0]?.argv).toContain("read-only");
    expect(a.changed_files).toEqual([]);
    expect(a.head_commit).toBe(a.base_commit);
    expect(a.findings).toEqual([]);
  });

  it("a network-enabled writer gets network access in the workspace-write sandbox", async () => {
    const p = ports(store, scenario({}));
    const pk = packet({ workers: [worker("net", {}, { network: true })], outputs: [] });
    const a = await runAttempt(request(repo.path, pk, { net: codex }), p);
    expect(a.invocations[0]?.argv.join(" ")).toContain(
      "--sandbox workspace-write --config sandbox_workspace_write.network_access=true",
    );
  });
});

describe("claude backend (fake CLI)", () => {
  it("runs claude -p with stream-json output and the permission mode of the worker", async () => {
    const rec = path.join(store.path, "claude-call.json");
    const p = ports(store, scenario({ writes, recordFile: rec }));
    const a = await runAttempt(request(repo.path, packet(), { builder: claude }), p);
    expect(a.outcome).toBe("ok");
    expect(a.invocations[0]?.argv).toEqual([
      "claude",
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Bash",
      "--disallowedTools",
      "WebFetch,WebSearch",
    ]);
    expect(a.invocations[0]?.tokens).toEqual({
      input_tokens: 900,
      cached_input_tokens: 100,
      output_tokens: 250,
      total_tokens: 1150,
      cost_usd: 0.0123,
    });
    expect((JSON.parse(fs.readFileSync(rec, "utf8")) as { stdin: string }).stdin).toContain(
      "Write src/app.txt",
    );
    expect(a.changed_files.map((c) => c.path)).toEqual(["report.md", "src/app.txt"]);
  });

  it("a read-only worker runs in default mode with editing tools disallowed", async () => {
    const p = ports(store, scenario({ writes }));
    const pk = packet({ workers: [worker("reader", {}, { write: false, shell: false })], outputs: [] });
    const a = await runAttempt(request(repo.path, pk, { reader: claude }), p);
    expect(a.invocations[0]?.argv.slice(5)).toEqual([
      "--permission-mode",
      "default",
      "--disallowedTools",
      "Edit,Write,NotebookEdit,Bash,WebFetch,WebSearch",
    ]);
    expect(a.changed_files).toEqual([]);
  });
});

describe("failure classes", () => {
  const cases: [string, WorkerBinding, FakeCliScenario, string, number | null][] = [
    ["codex fails the task", codex, { mode: "fail", error: "tests still fail" }, "task-failed", 1],
    ["claude fails the task", claude, { mode: "fail" }, "task-failed", 1],
    ["codex gets 401 from its endpoint", codex, { mode: "auth" }, "auth-failed", 1],
    ["claude has an invalid API key", claude, { mode: "auth" }, "auth-failed", 1],
    ["codex gets 429", codex, { mode: "rate-limit" }, "rate-limited", 1],
    ["claude gets 429", claude, { mode: "rate-limit" }, "rate-limited", 1],
    ["codex dies by SIGSEGV", codex, { mode: "crash" }, "crashed", null],
    ["claude dies by SIGKILL", claude, { mode: "crash", signal: "SIGKILL" }, "crashed", null],
    // Output that merely mentions login or 401 is not an auth failure.
    ["codex prints garbage and fails", codex, { mode: "garbage", exitCode: 1 }, "task-failed", 1],
    ["claude prints garbage and fails", claude, { mode: "garbage", exitCode: 1 }, "task-failed", 1],
  ];
  it.each(cases)("%s → %s", async (_name, binding, sc, outcome, exit) => {
    const p = ports(store, scenario(sc));
    const a = await runAttempt(request(repo.path, packet({ outputs: [] }), { builder: binding }), p);
    expect(a.outcome).toBe(outcome);
    // An auth failure is decided from the transcript: the CLI may be stopped before it exits itself.
    if (outcome === "auth-failed") expect([exit, null]).toContain(a.exit_code);
    else expect(a.exit_code).toBe(exit);
    expect(a.invocations[0]?.outcome).toBe(outcome);
    if (outcome === "crashed") expect(a.signal).toBe(sc.signal ?? "SIGSEGV");
    if (outcome === "auth-failed")
      expect(a.invocations[0]?.detail).toMatch(/401 Unauthorized|Invalid API key/);
    expect(a.checks).toEqual([]);
  });

  it("garbage on stdout with exit 0 is ok, with a note that the transcript is not JSON", async () => {
    const p = ports(store, scenario({ mode: "garbage" }));
    const a = await runAttempt(request(repo.path, packet({ outputs: [] }), { builder: codex }), p);
    expect(a.outcome).toBe("ok");
    expect(a.invocations[0]?.tokens).toBeNull();
    expect(a.notes).toContain("builder: 2 line(s) of stdout are not JSON events");
  });

  it("a missing codex is backend-missing", async () => {
    const p = ports(store, { PATH: "/usr/bin:/bin" });
    const a = await runAttempt(request(repo.path, packet(), { builder: codex }), p);
    expect(a.outcome).toBe("backend-missing");
    expect(a.invocations[0]?.detail).toBe("codex is not on PATH");
  });

  it("a hanging worker is killed with its grandchild at the timeout, nothing left running", async () => {
    const before = snapshot(repo.path);
    const pidFile = path.join(store.path, "grandchild.pid");
    const p = ports(store, scenario({ mode: "hang", grandchildPidFile: pidFile }));
    const a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { ...codex, timeout_ms: 1500 } },
        { limits: { kill_grace_ms: 200 } },
      ),
      p,
    );
    expect(a.outcome).toBe("timeout");
    expect(a.invocations[0]?.timed_out).toBe(true);
    const gc = Number(fs.readFileSync(pidFile, "utf8"));
    expect(gc).toBeGreaterThan(0);
    expect(alive(gc)).toBe(false);
    expect(snapshot(repo.path)).toEqual(before);
    expect(git(repo.path, "worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(1);
  });
});

describe("decisive transcripts", () => {
  it("claude retrying a 401 is stopped at once as auth-failed, long before its timeout, with the retry line as the reason", async () => {
    const p = ports(store, scenario({ mode: "auth-retry", retryEveryMs: 200 }));
    const started = Date.now();
    const a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { ...claude, timeout_ms: 120_000 } },
        { limits: { kill_grace_ms: 200 } },
      ),
      p,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(a.outcome).toBe("auth-failed");
    const inv = a.invocations[0];
    expect(inv?.outcome).toBe("auth-failed");
    expect(inv?.timed_out).toBe(false);
    expect(inv?.detail).toBe(
      "API Error: 401 from the model endpoint (Claude Code retry 1 of 10): authentication_failed",
    );
    expect(a.notes).toContain(
      "builder: stopped early: API Error: 401 from the model endpoint (Claude Code retry 1 of 10): authentication_failed",
    );
    expect(a.changed_files).toEqual([]);
  });

  it("a 403 stops it the same way; a hang without a decisive line still runs to its timeout", async () => {
    let p = ports(store, scenario({ mode: "auth-retry", status: 403 }));
    let a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), { builder: { ...claude, timeout_ms: 120_000 } }),
      p,
    );
    expect(a.outcome).toBe("auth-failed");
    expect(a.invocations[0]?.detail).toMatch(/^API Error: 403 from the model endpoint/);

    p = ports(store, scenario({ mode: "hang" }), 2);
    a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { ...claude, timeout_ms: 1500 } },
        { limits: { kill_grace_ms: 200 }, attempt: 2 },
      ),
      p,
    );
    expect(a.outcome).toBe("timeout");
    expect(a.invocations[0]?.timed_out).toBe(true);
    expect(a.notes.filter((n) => n.includes("stopped early"))).toEqual([]);
  });
});

describe("environment and secrets", () => {
  const SECRET = "sk-planted-Secret-0123456789";

  it("passes only allow-listed variables, records names only, and redacts secret values from every evidence file", async () => {
    const rec = path.join(store.path, "call.json");
    const p = ports(store, {
      ...scenario({
        echoEnv: ["OPENAI_API_KEY"],
        recordFile: rec,
        writes: [{ path: "src/config.txt", content: `key=${SECRET}\n` }],
        message: `my key is ${SECRET}`,
      }),
      OPENAI_API_KEY: SECRET,
      UNRELATED_PASSWORD: "hunter2-not-passed",
      SOME_VAR: "x",
    });
    const pk = packet({
      outputs: [{ artifact: "src/config.txt", validation_command: "cat src/config.txt" }],
    });
    const a = await runAttempt(request(repo.path, pk, { builder: codex }), p);
    expect(a.outcome).toBe("ok");
    const names = (JSON.parse(fs.readFileSync(rec, "utf8")) as { env_names: string[] }).env_names;
    expect(names).toContain("OPENAI_API_KEY");
    expect(names).not.toContain("UNRELATED_PASSWORD");
    expect(names).not.toContain("SOME_VAR");
    expect(a.env_names).toContain("OPENAI_API_KEY");

    const evidence = allText(p.attemptDir);
    expect(evidence).toContain("[REDACTED:OPENAI_API_KEY]");
    expect(evidence).not.toContain(SECRET);
    expect(a.findings).toEqual([
      {
        code: "secret-in-work",
        message:
          "the value of OPENAI_API_KEY appears in the work (redacted from the evidence; the attempt branch holds it as written)",
        worker_id: null,
        paths: ["diff.patch", "outputs/src/config.txt"],
      },
    ]);
    expect(a.notes).toEqual(
      expect.arrayContaining([
        "value of OPENAI_API_KEY redacted from checks/validation-1.stdout",
        "value of OPENAI_API_KEY redacted from workers/1-builder/stdout",
      ]),
    );
  });

  it("redacts secrets given through pass_env and literal env too", async () => {
    const p = ports(store, { MY_SERVICE_TOKEN: "tok-abcdef-123", PATH: process.env.PATH ?? "/usr/bin:/bin" });
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: {
          backend: "shell",
          shell: true,
          command: 'echo "$MY_SERVICE_TOKEN $DB_PASSWORD"',
          pass_env: ["MY_SERVICE_TOKEN"],
          env: { DB_PASSWORD: "pw-literal-999" },
        },
      }),
      p,
    );
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/stdout"), "utf8")).toBe(
      "[REDACTED:MY_SERVICE_TOKEN] [REDACTED:DB_PASSWORD]\n",
    );
    expect(a.invocations[0]?.env_names).toEqual(expect.arrayContaining(["MY_SERVICE_TOKEN", "DB_PASSWORD"]));
  });

  it("redacts DWM's own secrets that no worker was given (a worker can read /proc/<ppid>/environ)", async () => {
    const p = ports(store, {
      UNRELATED_PASSWORD: "pw-not-passed-4321",
      PATH: process.env.PATH ?? "/usr/bin:/bin",
    });
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: { backend: "shell", shell: true, command: 'echo "read elsewhere: pw-not-passed-4321"' },
      }),
      p,
    );
    expect(a.invocations[0]?.env_names).not.toContain("UNRELATED_PASSWORD");
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/stdout"), "utf8")).toBe(
      "read elsewhere: [REDACTED:UNRELATED_PASSWORD]\n",
    );
  });
});

describe("command backend", () => {
  it("fills {prompt_file}, {worktree} and {output_dir}, records them as placeholders and keeps the output folder", async () => {
    const p = ports(store);
    const script =
      'cp "$1" "$3/prompt-copy.md" && echo "{\\"type\\":\\"done\\"}" && cd "$2" && echo x > src/cmd.txt';
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: {
          backend: "command",
          argv: ["sh", "-c", script, "agent", "{prompt_file}", "{worktree}", "{output_dir}"],
          transcript: "stdout",
        },
      }),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.invocations[0]?.argv).toEqual([
      "sh",
      "-c",
      script,
      "agent",
      "{prompt_file}",
      "{worktree}",
      "{output_dir}",
    ]);
    expect(a.invocations[0]?.output_dir).toBe("workers/1-builder/out");
    expect(a.files.map((f) => f.path)).toContain("workers/1-builder/out/prompt-copy.md");
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/transcript.jsonl"), "utf8")).toBe(
      '{"type":"done"}\n',
    );
    expect(a.changed_files.map((c) => c.path)).toEqual(["src/cmd.txt"]);
  });
});
