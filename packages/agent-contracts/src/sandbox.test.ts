// The real Codex CLI and Claude Code inside DWM's worker sandbox (bubblewrap, the view
// `workerView` builds, network off but the scripted model endpoint on 127.0.0.1): each CLI's
// shell tool works in the checkout and cannot read a file outside its view (~/.ssh).
// Until `runAttempt` spawns through the sandbox, this drives the CLIs as the executor will.
import fs from "node:fs";
import path from "node:path";
import { bubblewrapSandbox, nodeProcessRunner } from "@dwm/core";
import { WORKER_IO, workerNetwork, workerView } from "@dwm/executor";
import {
  leftOut,
  type ModelServer,
  makeGitRepo,
  makeTempDir,
  missingPartMessage,
  startModelServer,
  type TempDir,
} from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AGENT_CLIS_DIR, dwmEnv, realCliOrSkip } from "./harness.js";
import { CLAUDE_OFFLINE_ENV, CODEX_OFFLINE_CONFIG, KEY_ENV, KEY_VALUE } from "./support.js";

const sandbox = bubblewrapSandbox();
// Skipped only when the user left bubblewrap or the real CLIs out (DWM_TEST_SKIP); otherwise a
// sandbox that does not work here, or a missing CLI, fails the file with how to install it.
const probe = await sandbox.probe();
if (!probe.ok && !leftOut("bubblewrap"))
  throw new Error(missingPartMessage("bubblewrap", probe.reason ?? undefined));
const codex = realCliOrSkip("codex").cli;
const claude = realCliOrSkip("claude").cli;

const SECRET = "ssh-private-key-7d3e9f";

describe.skipIf(leftOut("bubblewrap"))("real agent CLIs inside the worker sandbox", () => {
  let server: ModelServer;
  let repo: TempDir;
  let home: TempDir;
  let attempt: TempDir;
  let checkout: string;
  let ioDir: string;

  beforeAll(async () => {
    server = await startModelServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    repo = makeGitRepo({ "README.md": "# contract\n", "src/keep.txt": "keep\n" });
    home = makeTempDir("dwm-contract-home-");
    fs.mkdirSync(path.join(home.path, ".ssh"));
    fs.writeFileSync(path.join(home.path, ".ssh", "id_ed25519"), `${SECRET}\n`);
    attempt = makeTempDir("dwm-contract-attempt-");
    // A copy stands in for the attempt's checkout; the repository's objects are bound read-only.
    checkout = path.join(attempt.path, "wt");
    fs.cpSync(repo.path, checkout, { recursive: true });
    ioDir = path.join(attempt.path, "io");
    fs.mkdirSync(path.join(ioDir, "out"), { recursive: true });
  });
  afterEach(() => {
    for (const d of [repo, home, attempt]) d.cleanup();
  });

  const scriptReadingOutside = () =>
    server.script([
      { kind: "shell", command: `cat ${home.path}/.ssh/id_ed25519; echo made > src/made.txt` },
      { kind: "text", text: "done" },
    ]);

  async function runCli(argv: string[], backend: "codex" | "claude") {
    // A private agent home in the attempt's folder, as runAttempt makes one (makeAgentHome).
    const agentHome = path.join(attempt.path, "agent-home");
    fs.mkdirSync(agentHome, { recursive: true });
    const env = dwmEnv(home.path, { [KEY_ENV]: KEY_VALUE, TMPDIR: "/tmp", ...CLAUDE_OFFLINE_ENV });
    Object.assign(env, backend === "codex" ? { CODEX_HOME: agentHome } : { CLAUDE_CONFIG_DIR: agentHome });
    if (backend === "claude")
      Object.assign(env, { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: KEY_VALUE });
    const net = workerNetwork(backend, false, backend === "codex" ? server.openaiBaseUrl : server.url);
    const view = workerView({
      checkout,
      checkoutWritable: true,
      objectDirs: [path.join(repo.path, ".git", "objects")],
      ioDir,
      inputsDir: null,
      stores: [path.join(repo.path, ".dwm")],
      home: home.path,
      // The operator's own agent homes are hidden, as runAttempt hides them (operatorAgentState).
      hidden: [".codex", ".claude"].map((d) => path.join(home.path, d)),
      agentHomes: [agentHome],
      network: net.network,
    });
    // The pinned CLIs (and the node running them) live in this checkout, which may lie under /tmp
    // (a clone made for CI): the sandbox's private /tmp would hide them.
    const clis = [AGENT_CLIS_DIR, path.dirname(process.execPath)].map((source) => ({
      source,
      writable: false,
    }));
    const prepared = await sandbox.prepare(
      { argv, cwd: checkout, env, stdin: "Run the command.\n", timeoutMs: 120_000 },
      { ...view, binds: [...view.binds, ...clis] },
    );
    try {
      return await nodeProcessRunner.run(prepared.request);
    } finally {
      await prepared.dispose();
    }
  }

  it.skipIf(codex === null)(
    "codex (--sandbox danger-full-access inside DWM's): its shell tool cannot read ~/.ssh",
    async () => {
      scriptReadingOutside();
      const config = [
        ...CODEX_OFFLINE_CONFIG,
        'model_provider="g"',
        'model_providers.g.name="g"',
        `model_providers.g.base_url="${server.openaiBaseUrl}"`,
        'model_providers.g.wire_api="responses"',
        `model_providers.g.env_key="${KEY_ENV}"`,
        "model_providers.g.request_max_retries=0",
        "model_providers.g.stream_max_retries=0",
      ].flatMap((c) => ["--config", c]);
      const r = await runCli(
        [
          "codex",
          "exec",
          "--json",
          "--skip-git-repo-check",
          "--sandbox",
          "danger-full-access",
          "--model",
          "gpt-5.5",
          ...config,
          "--output-last-message",
          WORKER_IO.lastMessageFile,
          "-",
        ],
        "codex",
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const done = r.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { type: string; item?: { type: string; aggregated_output?: string } })
        .find((e) => e.type === "item.completed" && e.item?.type === "command_execution");
      expect(done?.item?.aggregated_output).toBe(
        `cat: ${home.path}/.ssh/id_ed25519: No such file or directory\n`,
      );
      expect(r.stdout).not.toContain(SECRET);
      expect(fs.readFileSync(path.join(checkout, "src", "made.txt"), "utf8")).toBe("made\n");
      expect(fs.readFileSync(path.join(ioDir, "last-message.md"), "utf8")).toBe("done");
    },
  );

  it.skipIf(claude === null)("claude: its Bash tool cannot read ~/.ssh", async () => {
    scriptReadingOutside();
    const r = await runCli(
      [
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "acceptEdits",
        "--allowedTools",
        "Bash",
      ],
      "claude",
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const results = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { type: string; tool_use_result?: { stdout: string } })
      .filter((e) => e.type === "user" && e.tool_use_result !== undefined);
    expect(results.map((e) => e.tool_use_result?.stdout)).toEqual([
      `cat: ${home.path}/.ssh/id_ed25519: No such file or directory`,
    ]);
    expect(r.stdout).not.toContain(SECRET);
    expect(fs.readFileSync(path.join(checkout, "src", "made.txt"), "utf8")).toBe("made\n");
  });
});
