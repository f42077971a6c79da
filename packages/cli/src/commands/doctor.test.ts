import fs from "node:fs";
import path from "node:path";
import { COVERED_AGENT_CLI_VERSIONS } from "@dwm/executor";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import type { CommandContext } from "../command.js";
import { run } from "./doctor.js";

const dirs: { cleanup(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

/** A PATH folder with `codex`/`claude` scripts that print these `--version` lines. */
function clis(lines: Partial<Record<"codex" | "claude", string>>): string {
  const dir = makeTempDir("dwm-doctor-");
  dirs.push(dir);
  for (const [name, line] of Object.entries(lines)) {
    const file = path.join(dir.path, name);
    fs.writeFileSync(file, `#!/bin/sh\necho '${line}'\n`);
    fs.chmodSync(file, 0o755);
  }
  return dir.path;
}

function ctx(pathDir: string): CommandContext {
  return {
    cwd: process.cwd(),
    env: { PATH: `${pathDir}:/usr/local/bin:/usr/bin:/bin` },
    clock: new FakeClock(),
    isTTY: false,
    emit: () => undefined,
  };
}

const checkOf = async (pathDir: string, id: string) => {
  const r = await run({ positionals: [], values: {}, json: true }, ctx(pathDir));
  expect(validateSchema("doctor-report", r.output).problems).toEqual([]);
  return (r.output as { checks: { id: string }[] }).checks.find((c) => c.id === id);
};

describe("dwm doctor: agent CLIs", () => {
  it("reports the installed versions and that they are the ones the contract tests cover", async () => {
    const dir = clis({
      codex: `codex-cli ${COVERED_AGENT_CLI_VERSIONS.codex}`,
      claude: `${COVERED_AGENT_CLI_VERSIONS.claude} (Claude Code)`,
    });
    expect(await checkOf(dir, "codex")).toEqual({
      id: "codex",
      status: "ok",
      message: `codex ${COVERED_AGENT_CLI_VERSIONS.codex} (the version DWM's contract tests cover)`,
      version: COVERED_AGENT_CLI_VERSIONS.codex,
      covered_version: COVERED_AGENT_CLI_VERSIONS.codex,
      covered: true,
    });
    expect(await checkOf(dir, "claude")).toMatchObject({ status: "ok", covered: true });
  });

  it("warns about a version the contract tests do not cover, and about a missing CLI", async () => {
    const dir = clis({ codex: "codex-cli 0.1.0" });
    expect(await checkOf(dir, "codex")).toMatchObject({
      status: "warn",
      version: "0.1.0",
      covered_version: COVERED_AGENT_CLI_VERSIONS.codex,
      covered: false,
      hint: `npm i -g @openai/codex@${COVERED_AGENT_CLI_VERSIONS.codex} for the tested version`,
    });
    expect(await checkOf(dir, "claude")).toMatchObject({
      status: "warn",
      message: "claude is not on PATH; the claude backend is unavailable",
      covered_version: COVERED_AGENT_CLI_VERSIONS.claude,
    });
  });
});

describe("dwm doctor: worker sandbox", () => {
  it("says the sandbox works where bwrap runs, and fails saying why where it is missing", async () => {
    const bwrap = ["/usr/local/bin", "/usr/bin", "/bin"].some((d) => fs.existsSync(path.join(d, "bwrap")));
    if (bwrap || process.env.CI) {
      expect(await checkOf(clis({}), "sandbox")).toMatchObject({
        status: "ok",
        message: expect.stringMatching(/^bubblewrap \d+\.\d+(\.\d+)? isolates workers$/),
      });
    }
    const empty = makeTempDir("dwm-doctor-nopath-");
    dirs.push(empty);
    const r = await run(
      { positionals: [], values: {}, json: true },
      { ...ctx(empty.path), env: { PATH: empty.path } },
    );
    expect((r.output as { checks: { id: string }[] }).checks.find((c) => c.id === "sandbox")).toEqual({
      id: "sandbox",
      status: "fail",
      message:
        "no worker sandbox: bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)",
      hint: "Install bubblewrap (apt-get install bubblewrap) on Linux with user namespaces enabled. Until then dwm run and dwm exec refuse to start workers unless given --no-sandbox (workers then run as you: docs/security.md says what they can do).",
    });
    expect(r.exitCode).toBe(1);
  });
});
