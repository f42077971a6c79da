// The real Claude Code (pinned in tools/agent-clis) with `dwm mcp` as an MCP server (--mcp-config),
// its model scripted on 127.0.0.1: the model calls DWM's status tool, and the tool's result must be
// in the model's next request, as Claude Code sends it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  git,
  type ModelServer,
  makeGitRepo,
  makeTempDir,
  startModelServer,
  type TempDir,
} from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dwmEnv, REPO_ROOT, realCliOrSkip } from "./harness.js";
import { CLAUDE_OFFLINE_ENV, KEY_VALUE } from "./support.js";

const { cli, skipReason } = realCliOrSkip("claude");
const DWM_BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const EXAMPLE = path.join(REPO_ROOT, "examples", "repo-audit");

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runClaude(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  prompt: string,
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(prompt);
  });
}

/** The text of the tool_result blocks in a Messages request's last user message. */
function toolResults(body: unknown): { tool_use_id: string; is_error?: boolean; text: string }[] {
  const messages = (body as { messages: { role: string; content: unknown }[] }).messages;
  const last = messages.at(-1);
  if (last?.role !== "user" || !Array.isArray(last.content)) return [];
  return (last.content as { type: string; tool_use_id: string; is_error?: boolean; content: unknown }[])
    .filter((b) => b.type === "tool_result")
    .map((b) => ({
      tool_use_id: b.tool_use_id,
      ...(b.is_error === undefined ? {} : { is_error: b.is_error }),
      text:
        typeof b.content === "string"
          ? b.content
          : (b.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join(""),
    }));
}

describe.skipIf(cli === null)(
  `dwm mcp as Claude Code's MCP server${skipReason ? ` (${skipReason})` : ""}`,
  () => {
    let server: ModelServer;
    let repo: TempDir;
    let home: TempDir;
    let runId: string;

    beforeAll(async () => {
      server = await startModelServer();
      repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
      fs.cpSync(EXAMPLE, repo.path, { recursive: true });
      git(repo.path, "add", "-A");
      git(repo.path, "commit", "-q", "-m", "audit");
      const compiled = await runClaude(
        [process.execPath, DWM_BIN, "compile", "workflow.plan.json", "--json"],
        repo.path,
        { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
        "",
      );
      expect(compiled.code, compiled.stderr).toBe(0);
      runId = (JSON.parse(compiled.stdout) as { run_id: string }).run_id;
      home = makeTempDir("dwm-contract-mcp-home-");
    });
    afterAll(async () => {
      await server.close();
      repo?.cleanup();
      home?.cleanup();
    });

    it("the scripted model calls DWM's status tool; the status report is in its next request", async () => {
      server.script([
        { kind: "tool", name: "mcp__dwm__status", input: {} },
        { kind: "text", text: "The run waits at its first packet." },
      ]);
      const config = path.join(home.path, "mcp.json");
      fs.writeFileSync(
        config,
        JSON.stringify({
          mcpServers: { dwm: { type: "stdio", command: process.execPath, args: [DWM_BIN, "mcp"] } },
        }),
      );
      const done = await runClaude(
        [
          cli?.bin as string,
          "-p",
          "--output-format",
          "stream-json",
          "--verbose",
          "--model",
          "claude-sonnet-4-5",
          "--mcp-config",
          config,
          "--strict-mcp-config",
          "--allowedTools",
          "mcp__dwm__status",
        ],
        repo.path,
        dwmEnv(home.path, {
          ANTHROPIC_BASE_URL: server.url,
          ANTHROPIC_API_KEY: KEY_VALUE,
          CLAUDE_CODE_MAX_RETRIES: "0",
          ...CLAUDE_OFFLINE_ENV,
        }),
        "Where does the DWM run stand? Use DWM's status tool.",
      );
      expect(server.problems).toEqual([]);
      expect(done.code, `${done.stderr}\n${done.stdout.slice(-2000)}`).toBe(0);

      // Claude Code started dwm mcp and offered its tools to the model.
      const events = done.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const init = events.find((e) => e.type === "system" && e.subtype === "init") as {
        mcp_servers: { name: string; status: string }[];
      };
      expect(init.mcp_servers).toEqual([{ name: "dwm", status: "connected" }]);
      const sent = server.conversation("messages");
      expect(sent).toHaveLength(2);
      const first = sent[0]?.body as { tools?: { name: string }[] } | undefined;
      const offered = (first?.tools ?? []).map((t) => t.name);
      expect(offered).toContain("mcp__dwm__status");
      expect(offered.filter((n) => n.startsWith("mcp__dwm__")).sort()).toEqual(
        ["compile", "evaluate", "gates", "log", "next", "report", "run", "show", "status", "verify"].map(
          (n) => `mcp__dwm__${n}`,
        ),
      );

      // The tool's answer reached the model: DWM's status report of this run, as the tool returned it.
      const [result] = toolResults(sent[1]?.body);
      expect(result?.is_error ?? false).toBe(false);
      const report = JSON.parse(result?.text ?? "null") as {
        kind: string;
        run_id: string;
        packets: { packet_id: string; state: string }[];
        next_action: { kind: string };
      };
      expect(report).toMatchObject({ kind: "status-report", run_id: runId, next_action: { kind: "run" } });
      expect(report.packets.map((p) => p.packet_id)).toEqual([
        "inventory",
        "scan_src",
        "scan_docs",
        "scan_lib",
        "report",
        "human_gate",
      ]);
      expect(events.at(-1)).toMatchObject({
        type: "result",
        is_error: false,
        result: "The run waits at its first packet.",
      });
    });
  },
);
