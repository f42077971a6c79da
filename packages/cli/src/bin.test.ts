import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/dwm.cjs", import.meta.url));
const dist = path.dirname(bin);
const plan = fileURLToPath(new URL("../../../examples/repo-audit/workflow.plan.json", import.meta.url));

/** The bundle's files (relative to dist/) that `dwm args` loaded, in load order. */
function loadedFiles(args: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bin-loaded-"));
  try {
    const hook = path.join(dir, "hook.cjs");
    const out = path.join(dir, "loaded.json");
    fs.writeFileSync(
      hook,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
    );
    execFileSync(process.execPath, ["--require", hook, bin, ...args], { encoding: "utf8" });
    const files = JSON.parse(fs.readFileSync(out, "utf8")) as string[];
    return files.filter((f) => f.startsWith(dist + path.sep)).map((f) => path.relative(dist, f));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

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
  it("is one CommonJS bundle whose commands and validators load only when used", () => {
    const version = loadedFiles(["--version"]);
    expect(version[0]).toBe("dwm.cjs");
    expect(version.filter((f) => f.startsWith("validators"))).toEqual([]);
    expect(version.filter((f) => /^dwm-(evaluate|status|run|compile|report)-[\w-]{8}\.cjs$/.test(f))).toEqual(
      [],
    );
    const evaluate = loadedFiles(["evaluate", plan]);
    expect(evaluate.filter((f) => /^dwm-(status|run|compile|report|verify)-[\w-]{8}\.cjs$/.test(f))).toEqual(
      [],
    );
    expect(evaluate.filter((f) => /^dwm-evaluate-[\w-]{8}\.cjs$/.test(f))).toHaveLength(1);
    // The plan's validator, and the ajv helpers it shares with others; no other schema's.
    expect(evaluate.filter((f) => /^validators\/(?!shared-)/.test(f))).toEqual([
      "validators/workflow-plan.cjs",
    ]);
  });
});
