import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { main } from "./main.js";
import { COMMANDS } from "./registry.js";

async function dwm(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { env: { PATH: process.env.PATH } },
  );
  return { code, stdout, stderr };
}

describe("dwm", () => {
  it("--version prints the package version", async () => {
    const r = await dwm("--version");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("--help lists every registered command", async () => {
    const r = await dwm("--help");
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.name);
  });

  it("an unknown command exits 2 with a code and a hint, no stack", async () => {
    const r = await dwm("nosuchcommand");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ERR_CLI_UNKNOWN_COMMAND");
    expect(r.stderr).toContain("hint:");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unknown command with --json prints an error document", async () => {
    const r = await dwm("nosuchcommand", "--json");
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("error-output", doc).ok).toBe(true);
    expect(doc.error.code).toBe("ERR_CLI_UNKNOWN_COMMAND");
  });

  it("--help --json, before or after the command, prints the command-list document", async () => {
    for (const argv of [
      ["--help", "--json"],
      ["--json", "--help"],
      ["run", "--help", "--json"],
    ]) {
      const r = await dwm(...argv);
      expect(r.code).toBe(0);
      expect(validateSchema("command-list", JSON.parse(r.stdout)).problems).toEqual([]);
    }
    expect(JSON.parse((await dwm("run", "--help", "--json")).stdout).commands[0].name).toBe("run");
  });

  it("an unknown command names the closest one", async () => {
    const r = await dwm("stauts");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "stauts" (did you mean status?)');
  });

  it("a bad option is a usage error", async () => {
    const r = await dwm("doctor", "--bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ERR_CLI_USAGE");
  });

  it("doctor --json validates against its schema", async () => {
    const r = await dwm("doctor", "--json");
    const doc = JSON.parse(r.stdout);
    const v = validateSchema("doctor-report", doc);
    expect(v.problems).toEqual([]);
    expect(doc.checks.map((c: { id: string }) => c.id)).toEqual([
      "node",
      "git",
      "repository",
      "codex",
      "claude",
      "sandbox",
    ]);
    expect(r.code).toBe(doc.ok ? 0 : 1);
  });

  it("commands --json is built from the registry and validates", async () => {
    const r = await dwm("commands", "--json");
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("command-list", doc).ok).toBe(true);
    expect(doc.commands.map((c: { name: string }) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    expect(Object.keys(doc.exit_codes)).toEqual(["0", "1", "2", "3", "4", "5"]);
  });

  it("every command has help", async () => {
    for (const c of COMMANDS) {
      const r = await dwm(c.name, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(c.usage);
    }
  });
});
