// The real Codex CLI and Claude Code through runAttempt with DWM's OS sandbox on (bubblewrap), as
// `dwm run` starts them: the scripted model on 127.0.0.1 reached through the endpoint relay with
// the network off, the CLI's edit and shell command landing in the checkout and the attempt
// branch, its shell tool unable to read a file outside its view (~/.ssh), and the CLI's state
// and a setting its shell tries to plant kept in its private agent home, not the operator's.
import fs from "node:fs";
import path from "node:path";
import { bubblewrapSandbox } from "@dwm/core";
import { runAttempt } from "@dwm/executor";
import type { WorkerBinding } from "@dwm/schemas";
import {
  git,
  type ModelServer,
  makeGitRepo,
  makeTempDir,
  startModelServer,
  type TempDir,
} from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { realCliOrSkip } from "./harness.js";
import {
  allText,
  CLAUDE_OFFLINE_ENV,
  CODEX_OFFLINE_CONFIG,
  KEY_ENV,
  packet,
  ports,
  request,
  transcript,
  uniqueRunId,
  worker,
} from "./support.js";

const sandbox = bubblewrapSandbox();
const probe = await sandbox.probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);
const codex = realCliOrSkip("codex").cli;
const claude = realCliOrSkip("claude").cli;

const SECRET = "ssh-private-key-5c1e7a";

describe.runIf(probe.ok)("real agent CLIs through runAttempt in DWM's sandbox", () => {
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
    store = makeTempDir("dwm-contract-sandboxed-");
  });
  afterEach(() => {
    repo.cleanup();
    store.cleanup();
  });

  /** The worker's home is `<store>/home` (ports): its ~/.ssh gets a key the CLI must not read. */
  function plantKey(): string {
    const home = path.join(store.path, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true });
    fs.writeFileSync(path.join(home, ".ssh", "id_ed25519"), `${SECRET}\n`);
    return home;
  }

  /** The CLI's shell also tries to plant a setting in the operator's own agent home (`settings`), silently. */
  function scriptReadingOutside(home: string, settings: string) {
    const plantSetting = `{ echo '{"hooks":{}}' >> ${home}/${settings}; } 2>/dev/null`;
    server.script([
      { kind: "write", path: "src/hello.txt", content: "hello\n" },
      { kind: "shell", command: `${plantSetting}; cat ${home}/.ssh/id_ed25519; echo made > src/made.txt` },
      { kind: "text", text: "done" },
    ]);
  }

  /** The operator's agent homes (`dwmEnv` makes them empty) after the attempt: the CLI ran in a private one. */
  function operatorAgentHomes(home: string): string[][] {
    return [".codex", ".claude"].map((d) => fs.readdirSync(path.join(home, d)));
  }

  it.runIf(codex !== null)(
    "codex: runs with --sandbox danger-full-access inside DWM's, edits and runs its shell in the checkout, cannot read ~/.ssh",
    async () => {
      const home = plantKey();
      scriptReadingOutside(home, ".codex/config.toml");
      const binding: WorkerBinding = {
        backend: "codex",
        model: "gpt-5.5",
        base_url: server.openaiBaseUrl,
        api_key_env: KEY_ENV,
        config: [
          ...CODEX_OFFLINE_CONFIG,
          "model_providers.dwm-gateway.request_max_retries=0",
          "model_providers.dwm-gateway.stream_max_retries=0",
        ],
      };
      const p = { ...ports(store, "codex-sandboxed"), sandbox };
      const a = await runAttempt(
        request(repo.path, packet("write", worker("builder"), "Write src/hello.txt."), binding, {
          runId: uniqueRunId("codex"),
          timeoutMs: 120_000,
        }),
        p,
      );
      expect(server.problems).toEqual([]);
      expect([a.outcome, a.sandbox], JSON.stringify(a.invocations[0]?.detail)).toEqual(["ok", "bubblewrap"]);
      expect(a.invocations[0]?.argv.slice(0, 6)).toEqual([
        "codex",
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        "danger-full-access",
      ]);
      expect(a.invocations[0]?.argv).toContain("{last_message_file}");
      expect(a.changed_files.map((f) => f.path)).toEqual(["src/hello.txt", "src/made.txt"]);
      expect(git(repo.path, "show", `${a.head_commit}:src/made.txt`)).toBe("made");
      const shell = transcript(p, a)
        .filter((e) => e.type === "item.completed")
        .map((e) => e.item as { type: string; aggregated_output?: string })
        .find((i) => i.type === "command_execution");
      expect(shell?.aggregated_output).toBe(`cat: ${home}/.ssh/id_ed25519: No such file or directory\n`);
      expect(allText(p.attemptDir)).not.toContain(SECRET);
      expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/last-message.md"), "utf8")).toBe(
        "done",
      );
      // Its sessions, state and the planted setting stayed in its private home, gone with the attempt.
      expect(operatorAgentHomes(home)).toEqual([[], []]);
    },
    180_000,
  );

  it.runIf(claude !== null)(
    "claude: its edit and Bash land in the checkout, its Bash cannot read ~/.ssh",
    async () => {
      const home = plantKey();
      scriptReadingOutside(home, ".claude/settings.json");
      const binding: WorkerBinding = {
        backend: "claude",
        model: "claude-sonnet-4-5",
        base_url: server.url,
        api_key_env: KEY_ENV,
        env: CLAUDE_OFFLINE_ENV,
      };
      const p = { ...ports(store, "claude-sandboxed"), sandbox };
      const a = await runAttempt(
        request(repo.path, packet("write", worker("builder"), "Write src/hello.txt."), binding, {
          runId: uniqueRunId("claude"),
          timeoutMs: 120_000,
        }),
        p,
      );
      expect(server.problems).toEqual([]);
      expect([a.outcome, a.sandbox], JSON.stringify(a.invocations[0]?.detail)).toEqual(["ok", "bubblewrap"]);
      expect(a.changed_files.map((f) => f.path)).toEqual(["src/hello.txt", "src/made.txt"]);
      const results = transcript(p, a)
        .filter((e) => e.type === "user" && e.tool_use_result !== undefined)
        .map((e) => (e.tool_use_result as { stdout?: string }).stdout)
        .filter((s) => s !== undefined);
      expect(results).toEqual([`cat: ${home}/.ssh/id_ed25519: No such file or directory`]);
      expect(allText(p.attemptDir)).not.toContain(SECRET);
      expect(operatorAgentHomes(home)).toEqual([[], []]);
    },
    180_000,
  );
});
