import fs from "node:fs";
import path from "node:path";
import { digest, isDwmError } from "@dwm/core";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadPlanFile, PLAN_LIMITS, parsePlanBytes } from "./index.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-load-plan-");
});
afterEach(() => tmp.cleanup());

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isDwmError(e)) return e.code;
    throw e;
  }
  return "no error";
}

describe("loadPlanFile", () => {
  it("returns the parsed plan and digest(plan)", () => {
    const file = path.join(tmp.path, "p.json");
    fs.writeFileSync(file, '{"b": 1, "a": [true, null]}');
    const r = loadPlanFile(file);
    expect(r.plan).toEqual({ a: [true, null], b: 1 });
    expect(r.digest).toBe(digest({ a: [true, null], b: 1 }));
  });

  it("gives the digest of the plan as loaded, however the value changes after; a number out of range is ERR_PLAN_NOT_JSON at once", () => {
    const file = path.join(tmp.path, "p.json");
    fs.writeFileSync(file, '{"b": 1, "a": [true, null]}');
    const r = loadPlanFile(file);
    (r.plan as { b: number }).b = 2;
    expect(r.digest).toBe(digest({ a: [true, null], b: 1 }));
    fs.writeFileSync(file, '{"a": {"b": [1, 1e999]}}');
    expect(codeOf(() => loadPlanFile(file))).toBe("ERR_PLAN_NOT_JSON");
  });

  it("accepts a file of exactly the limit and refuses one byte more, before parsing", () => {
    const file = path.join(tmp.path, "p.json");
    fs.writeFileSync(file, `[${" ".repeat(98)}]`);
    expect(loadPlanFile(file, { maxBytes: 100 }).plan).toEqual([]);
    fs.writeFileSync(file, `[${" ".repeat(100)}`); // 101 bytes, not JSON either: size wins
    expect(codeOf(() => loadPlanFile(file, { maxBytes: 100 }))).toBe("ERR_PLAN_TOO_LARGE");
    expect(PLAN_LIMITS.maxBytes).toBe(2 * 1024 * 1024);
  });

  it("a directory and a missing file are ERR_PLAN_UNREADABLE", () => {
    expect(codeOf(() => loadPlanFile(tmp.path))).toBe("ERR_PLAN_UNREADABLE");
    expect(codeOf(() => loadPlanFile(path.join(tmp.path, "nope.json")))).toBe("ERR_PLAN_UNREADABLE");
  });

  it("syntax errors carry line and column", () => {
    try {
      parsePlanBytes(Buffer.from('{\n  "a": 1,\n  oops\n}'), "p.json");
      expect.unreachable();
    } catch (e) {
      expect(isDwmError(e) && e.code).toBe("ERR_PLAN_NOT_JSON");
      expect((e as Error).message).toMatch(/line 3, column \d+/);
    }
  });

  it("nesting at the limit passes; one deeper is ERR_PLAN_TOO_DEEP", () => {
    const nest = (n: number) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`);
    expect(codeOf(() => parsePlanBytes(nest(PLAN_LIMITS.maxDepth), "p"))).toBe("no error");
    expect(codeOf(() => parsePlanBytes(nest(PLAN_LIMITS.maxDepth + 1), "p"))).toBe("ERR_PLAN_TOO_DEEP");
  });
});
