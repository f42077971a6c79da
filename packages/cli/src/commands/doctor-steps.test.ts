// dwm doctor's checks alone: the status each probe result gives.
import { COVERED_AGENT_CLI_VERSIONS } from "@dwm/executor";
import { describe, expect, it } from "vitest";
import { agentCheck, gitCheck, nodeCheck } from "./doctor.js";

describe("nodeCheck", () => {
  it("ok from 20.19, a failure before", () => {
    expect(nodeCheck("20.19.0")).toEqual({
      id: "node",
      status: "ok",
      message: "Node 20.19.0",
      version: "20.19.0",
    });
    expect(nodeCheck("22.1.0").status).toBe("ok");
    expect(nodeCheck("20.18.3")).toEqual({
      id: "node",
      status: "fail",
      message: "Node 20.18.3 is older than 20.19",
      hint: "Install Node 20.19 or later.",
      version: "20.18.3",
    });
  });
});

describe("gitCheck", () => {
  it("missing, older than 2.38, or ok", () => {
    expect(gitCheck({ ok: false, out: "" })).toEqual({
      id: "git",
      status: "fail",
      message: "git is not on PATH",
      hint: "Install git 2.38 or later.",
    });
    expect(gitCheck({ ok: true, out: "git version 2.37.9" })).toMatchObject({
      status: "fail",
      message: "git 2.37.9 is older than 2.38 (worktrees and merge-tree --write-tree)",
      version: "2.37.9",
    });
    expect(gitCheck({ ok: true, out: "git version 2.43.0" })).toEqual({
      id: "git",
      status: "ok",
      message: "git 2.43.0",
      version: "2.43.0",
    });
  });
});

describe("agentCheck", () => {
  const covered = COVERED_AGENT_CLI_VERSIONS.claude;
  it("missing and uncovered versions warn; the covered one is ok", () => {
    expect(agentCheck("claude", "@anthropic-ai/claude-code", { ok: false, out: "" })).toEqual({
      id: "claude",
      status: "warn",
      message: "claude is not on PATH; the claude backend is unavailable",
      hint: `npm i -g @anthropic-ai/claude-code@${covered}`,
      covered_version: covered,
    });
    expect(agentCheck("claude", "p", { ok: true, out: `${covered} (Claude Code)` })).toMatchObject({
      status: "ok",
      covered: true,
    });
    expect(agentCheck("claude", "p", { ok: true, out: "weird build" })).toEqual({
      id: "claude",
      status: "warn",
      message: `claude weird build: DWM's contract tests cover ${covered}; the claude backend may still work`,
      hint: `npm i -g p@${covered} for the tested version`,
      covered_version: covered,
      covered: false,
    });
  });
});
