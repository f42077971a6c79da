// main's steps alone: what is answered before a command is named, and how a command's arguments are checked.
import { isDwmError } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import type { CommandSpec } from "./command.js";
import { type Io, parseCommandArgs, topLevel } from "./main.js";
import { COMMANDS } from "./registry.js";

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

describe("checkOptions: mistakes in DWM's words, never node:util's", () => {
  const spec: CommandSpec = {
    name: "demo",
    usage: "dwm demo <a>",
    summary: "A demo.",
    positionals: { min: 0, max: 1 },
    options: {
      concurrency: { type: "string", description: "n" },
      json: { type: "boolean", description: "j" },
      quiet: { type: "boolean", short: "q", description: "q" },
    },
    load: async () => ({ run: async () => ({ exitCode: 0, output: null }) }),
  };
  const refusal = (rest: string[]) => {
    try {
      parseCommandArgs(spec, rest);
    } catch (e) {
      if (isDwmError(e)) return `${e.code}: ${e.message}`;
    }
    return null;
  };

  it.each([
    [["--concurency", "2"], "ERR_CLI_USAGE: demo: no option --concurency (did you mean --concurrency?)"],
    [["--jsn"], "ERR_CLI_USAGE: demo: no option --jsn (did you mean --json?)"],
    [["--zzz"], "ERR_CLI_USAGE: demo: no option --zzz; it takes --concurrency, --json, --quiet"],
    [["-x"], "ERR_CLI_USAGE: demo: no option -x; it takes --concurrency, --json, --quiet"],
    [["--json=yes"], "ERR_CLI_USAGE: demo: --json is a switch: it takes no value"],
    [["--concurrency"], "ERR_CLI_USAGE: demo: --concurrency needs a value"],
    [
      ["--concurrency", "-3"],
      "ERR_CLI_USAGE: demo: --concurrency needs a value (for one that starts with -, write --concurrency=-3)",
    ],
  ])("%j → %s", (rest, message) => {
    const got = refusal(rest);
    expect(got).toBe(message);
    expect(got).not.toMatch(/Unknown option|argument missing|To specify a positional/);
  });

  it("accepts what parseArgs accepts: values after = or as the next word, short switches, -- and what follows", () => {
    expect(parseCommandArgs(spec, ["--concurrency=2", "-q", "--json"]).values).toEqual({
      concurrency: "2",
      quiet: true,
      json: true,
    });
    expect(parseCommandArgs(spec, ["--concurrency", "2", "--", "--not-an-option"]).positionals).toEqual([
      "--not-an-option",
    ]);
  });
});

describe("--help --json", () => {
  it("is the command-list document: every command, or the one asked about", () => {
    const all = io();
    expect(topLevel("--help", [], all, true)).toBe(0);
    const doc = JSON.parse(all.out);
    expect(validateSchema("command-list", doc).problems).toEqual([]);
    expect(doc.commands.map((c: { name: string }) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    const one = io();
    expect(topLevel("help", ["status"], one, true)).toBe(0);
    expect(JSON.parse(one.out).commands.map((c: { name: string }) => c.name)).toEqual(["status"]);
  });
});
