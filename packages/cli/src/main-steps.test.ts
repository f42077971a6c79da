// main's steps alone: what is answered before a command is named, and how a command's arguments are checked.
import { isDwmError } from "@dwm/core";
import { describe, expect, it } from "vitest";
import type { CommandSpec } from "./command.js";
import { type Io, parseCommandArgs, topLevel } from "./main.js";

function io(): Io & { out: string } {
  const o = { out: "", stdout: (s: string) => (o.out += s), stderr: () => undefined };
  return o;
}

describe("topLevel", () => {
  it("no command is usage (exit 2); --help, -h, help and help <command> exit 0", () => {
    const cases: [string | undefined, string[], number | null, string][] = [
      [undefined, [], 2, "Usage: dwm <command> [options]"],
      ["--help", [], 0, "Usage: dwm <command> [options]"],
      ["-h", [], 0, "Usage: dwm <command> [options]"],
      ["help", ["nosuch"], 0, "Usage: dwm <command> [options]"],
      ["help", ["status"], 0, "Usage: dwm status [run]"],
    ];
    for (const [first, rest, code, text] of cases) {
      const o = io();
      expect(topLevel(first, rest, o, false)).toBe(code);
      expect(o.out).toContain(text);
    }
  });

  it("--version prints the version, as JSON under --json; a command name is not answered here", () => {
    const o = io();
    expect(topLevel("-v", [], o, true)).toBe(0);
    expect(JSON.parse(o.out)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const p = io();
    expect(topLevel("status", ["--help"], p, false)).toBeNull();
    expect(p.out).toBe("");
  });
});

describe("parseCommandArgs", () => {
  const spec: CommandSpec = {
    name: "demo",
    usage: "dwm demo <a> [b]",
    summary: "A demo.",
    positionals: { min: 1, max: 2 },
    options: {
      flag: { type: "boolean", description: "a flag" },
      item: { type: "string", multiple: true, description: "items" },
    },
    load: async () => ({ run: async () => ({ exitCode: 0, output: null }) }),
  };

  it("parses options and positionals", () => {
    expect(parseCommandArgs(spec, ["x", "--flag", "--item", "1", "--item", "2"])).toEqual({
      positionals: ["x"],
      values: { flag: true, item: ["1", "2"] },
    });
  });

  it("an unknown option and a wrong number of arguments are usage errors naming the usage", () => {
    const refusal = (rest: string[]) => {
      try {
        parseCommandArgs(spec, rest);
      } catch (e) {
        if (isDwmError(e)) return [e.code, e.message, e.hint];
      }
      return null;
    };
    expect(refusal(["x", "--bogus"])?.[0]).toBe("ERR_CLI_USAGE");
    expect(refusal(["x", "--bogus"])?.[2]).toBe("Usage: dwm demo <a> [b]");
    expect(refusal([])).toEqual([
      "ERR_CLI_USAGE",
      "demo takes 1 to 2 argument(s), got 0",
      "Usage: dwm demo <a> [b]",
    ]);
    expect(refusal(["x", "y", "z"])?.[1]).toBe("demo takes 1 to 2 argument(s), got 3");
  });
});
