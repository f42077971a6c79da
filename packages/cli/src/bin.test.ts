import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

describe("the built dwm binary", () => {
  it("exists (turbo builds before testing)", () => {
    expect(fs.existsSync(bin)).toBe(true);
  });
  it("runs --version and exits 2 on an unknown command without a stack trace", () => {
    expect(execFileSync(process.execPath, [bin, "--version"], { encoding: "utf8" })).toMatch(
      /^\d+\.\d+\.\d+/,
    );
    const r = spawnSync(process.execPath, [bin, "nosuchcommand"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("ERR_CLI_UNKNOWN_COMMAND");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
