import type { WorkerBinding } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { parseClaude } from "./backends/claude.js";
import { parseCodex } from "./backends/codex.js";
import { checkBinding, planInvocation, recordArgv } from "./backends.js";
import { parseGeneric } from "./json-lines.js";

const paths = {
  worktree: "/wt",
  promptFile: "/a/workers/1-w/prompt.md",
  outputDir: "/a/workers/1-w/out",
  lastMessageFile: "/a/workers/1-w/last-message.md",
  ioDir: "/a",
};
const reader = { write: false, shell: false, network: false };
const writer = { write: true, shell: true, network: true };

function problem(b: WorkerBinding): string | undefined {
  try {
    checkBinding("w", b);
    return undefined;
  } catch (e) {
    expect((e as { code?: string }).code).toBe("ERR_EXEC_BACKEND_UNAVAILABLE");
    return (e as Error).message.replace('binding of worker "w": ', "");
  }
}

describe("checkBinding", () => {
  it("asks each backend what its binding needs, then refuses options of other backends", () => {
    expect(problem({ backend: "shell", argv: ["make"] })).toBeUndefined();
    expect(problem({ backend: "shell", shell: true, command: "make" })).toBeUndefined();
    expect(problem({ backend: "shell", shell: true })).toBe("shell: true needs `command`");
    expect(problem({ backend: "shell", shell: true, command: "x", argv: ["x"] })).toBe(
      "give either `argv` or `shell: true` with `command`, not both",
    );
    expect(problem({ backend: "shell", command: "x" })).toBe(
      "`command` runs through a shell only with `shell: true`",
    );
    expect(problem({ backend: "shell" })).toBe("the shell backend needs `argv`");
    // The backend's own need comes first.
    expect(problem({ backend: "command", shell: true })).toBe("the command backend needs an `argv` template");
    expect(problem({ backend: "codex", command: "x" })).toBe(
      "`shell` and `command` belong to the shell backend",
    );
    expect(problem({ backend: "dry-run", base_url: "http://x" })).toBe(
      "`base_url` and `api_key_env` belong to the codex and claude backends",
    );
    expect(problem({ backend: "claude", base_url: "http://x", api_key_env: "K" })).toBeUndefined();
    expect(problem({ backend: "dry-run" })).toBeUndefined();
  });
});

describe("planInvocation", () => {
  it("each backend's argv, stdin, transcript reader and output folder", () => {
    const plans = {
      dry: planInvocation({ backend: "dry-run" }, writer, paths),
      shell: planInvocation({ backend: "shell", argv: ["make", "test"] }, writer, paths),
      script: planInvocation({ backend: "shell", shell: true, command: "make && echo ok" }, writer, paths),
      command: planInvocation(
        {
          backend: "command",
          argv: ["aider", "{prompt_file}", "{worktree}"],
          stdin: "prompt",
          transcript: "stdout",
        },
        writer,
        paths,
      ),
      quiet: planInvocation({ backend: "command", argv: ["tool"] }, writer, paths),
      codex: planInvocation({ backend: "codex" }, reader, paths),
      claude: planInvocation({ backend: "claude" }, reader, paths),
    };
    const shape = (p: (typeof plans)[keyof typeof plans]) => [p.argv, p.stdin, p.readTranscript, p.outputDir];
    expect(shape(plans.dry)).toEqual([[], "none", null, false]);
    expect(shape(plans.shell)).toEqual([["make", "test"], "none", null, false]);
    expect(shape(plans.script)).toEqual([["sh", "-c", "make && echo ok"], "none", null, false]);
    expect(shape(plans.command)).toEqual([["aider", paths.promptFile, "/wt"], "prompt", parseGeneric, true]);
    expect(shape(plans.quiet)).toEqual([["tool"], "none", null, true]);
    expect(shape(plans.codex)).toEqual([
      [
        "codex",
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        "read-only",
        "--output-last-message",
        paths.lastMessageFile,
        "-",
      ],
      "prompt",
      parseCodex,
      false,
    ]);
    expect(shape(plans.claude)).toEqual([
      [
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "default",
        "--disallowedTools",
        "Edit,Write,NotebookEdit,Bash,WebFetch,WebSearch",
      ],
      "prompt",
      parseClaude,
      false,
    ]);
  });

  it("records local paths as placeholders, the longest first", () => {
    const p = planInvocation(
      { backend: "command", argv: ["t", "{output_dir}/x", "{worktree}", "{prompt_file}"] },
      writer,
      paths,
    );
    expect(recordArgv([...p.argv, paths.lastMessageFile, "/a/other"], paths)).toEqual([
      "t",
      "{output_dir}/x",
      "{worktree}",
      "{prompt_file}",
      "{last_message_file}",
      "{io_dir}/other",
    ]);
  });
});
