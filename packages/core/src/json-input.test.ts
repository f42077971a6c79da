import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJsonText, readJsonFile } from "./json-input.js";

function err(fn: () => unknown): { code?: string; message?: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message?: string };
  }
  return {};
}

describe("parseJsonText", () => {
  it("parses JSON", () => {
    expect(parseJsonText('{"a":[1]}', "x")).toEqual({ a: [1] });
  });
  it("refuses a BOM, syntax errors with a location, deep nesting", () => {
    expect(err(() => parseJsonText('\ufeff{"a":1}', "p.json")).code).toBe("ERR_JSON_INVALID");
    const e = err(() => parseJsonText('{\n  "a": 1,\n}', "p.json"));
    expect(e.code).toBe("ERR_JSON_INVALID");
    expect(e.message).toMatch(/line 3/);
    expect(err(() => parseJsonText("[".repeat(100) + "]".repeat(100), "p.json")).code).toBe(
      "ERR_JSON_INVALID",
    );
    expect(parseJsonText('["[[[[[["]', "p.json", { maxDepth: 2 })).toEqual(["[[[[[["]);
  });
  it("refuses files above the size limit before reading them", () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-json-")), "big.json");
    fs.writeFileSync(f, `"${"x".repeat(2000)}"`);
    expect(err(() => readJsonFile(f, { maxBytes: 1000 })).code).toBe("ERR_INPUT_TOO_LARGE");
    expect(err(() => readJsonFile(`${f}.none`)).code).toBe("ERR_ARTIFACT_MISSING");
  });
});
