// The README's Quick start, played as a new user would: this clone's CLI put on PATH with
// `pnpm link --global` (PNPM_HOME in a temporary folder, as `pnpm setup` makes it), then, in a
// fresh repository of one's own, only the documented commands from `dwm init` to a completed
// run and its report opened in the browser ($BROWSER, here a script that records what it was
// asked to open, and real headless Chromium to look at it when it is there).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { git, makeGitRepo, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { requireBuiltCli } from "../test-support/built-cli.js";
import { CHROMIUM, openBrowser, screenshot } from "../test-support/chromium.js";

const CLI_DIR = fileURLToPath(new URL("../..", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function hasPnpm(): boolean {
  try {
    execFileSync("pnpm", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Run `argv` (a command on PATH) in `cwd` with `env`; its exit code and output. */
function sh(
  cwd: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** The `$ dwm ...` lines a command printed, without their `# comments`. */
function suggested(out: string): string[] {
  return out
    .split("\n")
    .map((l) => /^\s*\$ (dwm .*?)\s*(#.*)?$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}

// Never skipped: `pnpm test` builds the CLI first and runs with pnpm.
requireBuiltCli();
if (!hasPnpm()) throw new Error("pnpm is not on PATH: the README's Quick start needs it (npm i -g pnpm@10)");

describe("a new user's first run (README Quick start)", () => {
  it("dwm on PATH from the clone; init, evaluate, run, report --open; git sees nothing of .dwm/", async () => {
    const home = makeTempDir("dwm-pnpm-home-");
    cleanups.push(home.cleanup);
    // A new user has no operator key yet: their config folder is a fresh one.
    const config = makeTempDir("dwm-new-user-config-");
    cleanups.push(config.cleanup);
    const env: NodeJS.ProcessEnv = {
      HOME: process.env.HOME,
      DWM_CONFIG_DIR: config.path,
      PNPM_HOME: home.path,
      PATH: `${home.path}${path.delimiter}${process.env.PATH}`,
    };
    const link = await sh(CLI_DIR, ["pnpm", "link", "--global"], env);
    expect(link.code, link.out).toBe(0);
    expect(fs.existsSync(path.join(home.path, "dwm"))).toBe(true);

    // A browser that records what it was asked to open.
    const opened = path.join(home.path, "opened.txt");
    const browser = path.join(home.path, "browser.sh");
    fs.writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`, { mode: 0o755 });
    const userEnv = { ...env, BROWSER: browser };

    const repo = makeGitRepo({ "README.md": "# my project\n", "src/main.js": "console.log(1);\n" });
    cleanups.push(repo.cleanup);
    const init = await sh(repo.path, ["dwm", "init"], userEnv);
    expect(init.code, init.out).toBe(0);
    const next = suggested(init.out);
    expect(next).toEqual([
      "dwm keys init",
      "dwm keys trust",
      "dwm evaluate workflow.plan.json",
      "dwm run workflow.plan.json --approve write",
      "dwm report --open",
    ]);

    // The commands init printed, as printed.
    const results = [];
    for (const line of next) results.push(await sh(repo.path, line.split(" "), userEnv));
    const [keysInit, keysTrust, evaluate, run, report] = results as { code: number | null; out: string }[];
    expect(keysInit?.code, keysInit?.out).toBe(0);
    expect(keysTrust?.code, keysTrust?.out).toBe(0);
    expect(evaluate?.code, evaluate?.out).toBe(0);
    expect(evaluate?.out).toContain("valid: activate");
    expect(run?.code, run?.out).toBe(0);
    expect(run?.out).toMatch(/Run \S+ is complete\./);
    expect(report?.code, report?.out).toBe(0);

    // The browser was started on the report, a self-contained page of both packets.
    for (let i = 0; i < 100 && !fs.existsSync(opened); i++) await new Promise((r) => setTimeout(r, 50));
    const page = fs.readFileSync(opened, "utf8").trim();
    expect(page).toMatch(/\.dwm\/reports\/\S+\.html$/);
    expect(fs.readFileSync(page, "utf8").match(/class="node"/g)).toHaveLength(2);
    if (fs.existsSync(CHROMIUM)) {
      const b = await openBrowser();
      try {
        await b.page.goto(`file://${page}`);
        expect(await b.page.locator(".node").count()).toBe(2);
        expect(await b.page.locator(".edge").count()).toBe(1);
        await screenshot(b.page, "report-new-user.png");
        expect(b.problems).toEqual([]);
      } finally {
        await b.close();
      }
    }

    // The work is on the run's integration branch; the user's checkout and git status are clean.
    const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
    expect(git(repo.path, "show", `dwm/${runId}/integration:dwm-out/summary.md`)).toContain(
      "# Files by extension",
    );
    expect(git(repo.path, "status", "--porcelain", "--ignored=no")).toBe(
      "?? dwm.operators.json\n?? dwm.workers.json\n?? workflow.plan.json",
    );
    // The README's last step: the result lands in the branch the run started from.
    const land = await sh(repo.path, ["dwm", "land", runId], userEnv);
    expect(land.code, land.out).toBe(0);
    expect(fs.readFileSync(path.join(repo.path, "dwm-out", "summary.md"), "utf8")).toContain(
      "# Files by extension",
    );

    // Once the key exists and is trusted, init suggests only the run's own steps.
    const again = await sh(repo.path, ["dwm", "init"], userEnv);
    expect(suggested(again.out)).toEqual([
      "dwm evaluate workflow.plan.json",
      "dwm run workflow.plan.json --approve write",
      "dwm report --open",
    ]);
  }, 240_000);
});
