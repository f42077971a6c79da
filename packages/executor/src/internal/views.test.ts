import fs from "node:fs";
import path from "node:path";
import type { WorkerBinding } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Job } from "./jobs.js";
import { makeAgentHome, operatorAgentState } from "./views.js";

let tmp: TempDir;
let home: string;
beforeEach(() => {
  tmp = makeTempDir("dwm-views-");
  home = path.join(tmp.path, "home");
});
afterEach(() => tmp.cleanup());

function plant(rel: string, content: string): void {
  fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
  fs.writeFileSync(path.join(home, rel), content);
}

function job(binding: WorkerBinding): Job {
  return { binding } as Job;
}

const listing = (dir: string) => fs.readdirSync(dir).sort();

describe("makeAgentHome", () => {
  it("codex: the operator's config.toml and auth.json, nothing else of ~/.codex", () => {
    for (const f of ["config.toml", "auth.json", "AGENTS.md", "hooks.json", ".env", "history.jsonl"])
      plant(`.codex/${f}`, `${f}\n`);
    plant(".codex/rules/default.rules", "x\n");
    const dir = path.join(tmp.path, "agent-home", "1");
    expect(makeAgentHome(job({ backend: "codex" }), { HOME: home }, dir)).toEqual({
      dir,
      env: { CODEX_HOME: dir },
      secrets: {},
    });
    expect(listing(dir)).toEqual(["auth.json", "config.toml"]);
    expect(fs.readFileSync(path.join(dir, "auth.json"), "utf8")).toBe("auth.json\n");
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, "auth.json")).mode & 0o777).toBe(0o600);
  });

  it("codex with its own base_url: the settings only, not the operator's login; CODEX_HOME names where they come from", () => {
    const own = path.join(tmp.path, "own-codex");
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, "config.toml"), "own\n");
    fs.writeFileSync(path.join(own, "auth.json"), "{}\n");
    const dir = path.join(tmp.path, "agent-home", "1");
    makeAgentHome(
      job({ backend: "codex", base_url: "http://127.0.0.1:8080/v1" }),
      { HOME: home, CODEX_HOME: own },
      dir,
    );
    expect(listing(dir)).toEqual(["config.toml"]);
    expect(fs.readFileSync(path.join(dir, "config.toml"), "utf8")).toBe("own\n");
  });

  it("claude: settings.json, .credentials.json, and of ~/.claude.json who is logged in only; the tokens in them are its secrets", () => {
    plant(".claude/settings.json", '{"env":{"ANTHROPIC_AUTH_TOKEN":"tok-settings"},"model":"m"}\n');
    plant(
      ".claude/.credentials.json",
      '{"claudeAiOauth":{"accessToken":"at-1","refreshToken":"rt-1","expiresAt":1}}\n',
    );
    plant(".claude/CLAUDE.md", "memory\n");
    plant(".claude/agents/a.md", "agent\n");
    plant(
      ".claude.json",
      JSON.stringify({
        userID: "u",
        hasCompletedOnboarding: true,
        oauthAccount: { emailAddress: "op@example.com" },
        primaryApiKey: "sk-ant-x",
        mcpServers: { m: { command: "run-me" } },
        projects: { "/p": {} },
      }),
    );
    const dir = path.join(tmp.path, "agent-home", "2");
    const made = makeAgentHome(job({ backend: "claude" }), { HOME: home }, dir);
    expect(made?.env).toEqual({ CLAUDE_CONFIG_DIR: dir });
    expect(made?.secrets).toEqual({
      "agent home .claude.json.primaryApiKey": "sk-ant-x",
      "agent home .credentials.json.claudeAiOauth.accessToken": "at-1",
      "agent home .credentials.json.claudeAiOauth.refreshToken": "rt-1",
      "agent home settings.json.env.ANTHROPIC_AUTH_TOKEN": "tok-settings",
    });
    expect(listing(dir)).toEqual([".claude.json", ".credentials.json", "settings.json"]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, ".claude.json"), "utf8"))).toEqual({
      userID: "u",
      hasCompletedOnboarding: true,
      oauthAccount: { emailAddress: "op@example.com" },
      primaryApiKey: "sk-ant-x",
    });
  });

  it("claude with CLAUDE_CONFIG_DIR and its own base_url: the global config from inside that folder, without the login", () => {
    const own = path.join(tmp.path, "own-claude");
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, ".credentials.json"), "{}\n");
    fs.writeFileSync(path.join(own, ".claude.json"), JSON.stringify({ userID: "own", primaryApiKey: "k" }));
    plant(".claude.json", JSON.stringify({ userID: "home" }));
    const dir = path.join(tmp.path, "agent-home", "1");
    makeAgentHome(
      job({ backend: "claude", base_url: "http://127.0.0.1:8080" }),
      { HOME: home, CLAUDE_CONFIG_DIR: own },
      dir,
    );
    expect(listing(dir)).toEqual([".claude.json"]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, ".claude.json"), "utf8"))).toEqual({ userID: "own" });
  });

  it("an unreadable global config is left out; other backends get no agent home", () => {
    plant(".claude.json", "{not json");
    const dir = path.join(tmp.path, "agent-home", "1");
    makeAgentHome(job({ backend: "claude" }), { HOME: home }, dir);
    expect(listing(dir)).toEqual([]);
    expect(makeAgentHome(job({ backend: "shell", command: "true" }), { HOME: home }, dir)).toBeNull();
  });
});

it("operatorAgentState: both CLIs' homes, Claude Code's global config and ~/.config/anthropic", () => {
  expect(operatorAgentState({ HOME: "/h" })).toEqual([
    "/h/.codex",
    "/h/.claude",
    "/h/.claude.json",
    "/h/.config/anthropic",
  ]);
  expect(operatorAgentState({ HOME: "/h", CODEX_HOME: "/c", CLAUDE_CONFIG_DIR: "/d" })).toEqual([
    "/c",
    "/d",
    "/h/.claude.json",
    "/h/.config/anthropic",
  ]);
  expect(operatorAgentState({})).toEqual([]);
});
