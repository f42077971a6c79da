// The completion scripts, built from the registry, loaded in the real shells: bash's function
// completes commands, options, option values and run ids; fish's `complete -C` does the same;
// zsh's script parses and defines its functions.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { leftOut, makeTempDir, requirePart } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../registry.js";
import { bashScript, fishScript, positionalKind, zshScript } from "./completion.js";
import { closest } from "./suggest.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A folder with a run store holding one run, and the three scripts. */
function setup(): string {
  const dir = makeTempDir("dwm-completion-");
  cleanups.push(dir.cleanup);
  fs.mkdirSync(path.join(dir.path, ".dwm", "runs", "demo-0123456789ab"), { recursive: true });
  fs.writeFileSync(path.join(dir.path, "dwm.bash"), bashScript(COMMANDS));
  fs.writeFileSync(path.join(dir.path, "dwm.fish"), fishScript(COMMANDS));
  fs.writeFileSync(path.join(dir.path, "_dwm"), zshScript(COMMANDS));
  return dir.path;
}

describe("dwm completion", () => {
  it("bash completes commands, options, values from the registry and the store's run ids", () => {
    const dir = setup();
    const complete = (words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source ./dwm.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _dwm; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { cwd: dir, encoding: "utf8" },
      )
        .trim()
        .split("\n");
    expect(complete(["dwm", "sta"])).toEqual(["status"]);
    expect(complete(["dwm", "run", "--conc"])).toEqual(["--concurrency"]);
    expect(complete(["dwm", "run", "--backend", "c"])).toEqual(["codex", "claude"]);
    expect(complete(["dwm", "run", "--until", ""])).toEqual(["gate", "complete"]);
    expect(complete(["dwm", "show", ""])).toEqual(["demo-0123456789ab"]);
  });

  // fish and zsh come with scripts/ci-setup.sh; skipped only with DWM_TEST_SKIP=fish / zsh.
  it.skipIf(leftOut("fish"))("fish completes the same", () => {
    requirePart("fish");
    const dir = setup();
    const complete = (line: string) =>
      execFileSync("fish", ["-c", `source ./dwm.fish; complete -C '${line}'`], { cwd: dir, encoding: "utf8" })
        .trim()
        .split("\n")
        .map((l) => l.split("\t")[0]);
    expect(complete("dwm sta")).toEqual(["status"]);
    expect(complete("dwm run --backend c")).toEqual(["claude", "codex"]);
    expect(complete("dwm gates ")).toEqual(["demo-0123456789ab"]);
  });

  it.skipIf(leftOut("zsh"))("zsh parses the script and defines its functions", () => {
    requirePart("zsh");
    const dir = setup();
    execFileSync("zsh", ["-n", "_dwm"], { cwd: dir });
    const out = execFileSync(
      "zsh",
      ["-c", "autoload -U compinit && compinit -u -d ./zcompdump; source ./_dwm; whence -w _dwm _dwm_runs"],
      { cwd: dir, encoding: "utf8" },
    );
    expect(out).toBe("_dwm: function\n_dwm_runs: function\n");
  });

  it("every command's arguments are typed: runs, plan files, or none", () => {
    const kinds = Object.fromEntries(COMMANDS.map((c) => [c.name, positionalKind(c)]));
    expect(kinds).toMatchObject({ status: "run", show: "run", run: "file", compile: "file", init: "none" });
  });
});

describe("closest", () => {
  it.each([
    ["stauts", ["status", "show"], "status"],
    ["concurency", ["concurrency", "store"], "concurrency"],
    ["comp", ["compile", "completion", "commands"], "compile"],
    ["xyz", ["status", "show"], null],
    ["zhs", ["bash", "zsh", "fish"], "zsh"],
  ])("%s → %s", (typed, candidates, want) => {
    expect(closest(typed, candidates)).toBe(want);
  });
});
