import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readFileBounded } from "./bounded-read.js";
import { readJsonFile } from "./json-input.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bounded-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("readFileBounded: the one size guard", () => {
  it("reads a file at the limit, refuses one byte more before reading it", () => {
    const f = path.join(dir, "p.json");
    fs.writeFileSync(f, "x".repeat(100));
    const ok = readFileBounded(f, 100);
    expect(ok.ok && ok.bytes.length).toBe(100);
    expect(readFileBounded(f, 99)).toEqual({ ok: false, reason: "too-large", size: 100 });
  });

  // Linux's /proc (DWM's tests run on Linux: the worker sandbox is bubblewrap).
  it("a file larger than its reported size is cut at one byte past the limit and refused", () => {
    // /proc files report size 0 and have content: the case of a file that grew after fstat.
    expect(readFileBounded("/proc/self/status", 0)).toEqual({ ok: false, reason: "too-large", size: null });
    const r = readFileBounded("/proc/self/status", 1 << 20);
    expect(r.ok && r.bytes.toString("utf8")).toMatch(/^Name:/);
  });

  it("a directory is not a file; a missing file is unreadable with its errno", () => {
    expect(readFileBounded(dir, 100)).toEqual({ ok: false, reason: "not-a-file" });
    const r = readFileBounded(path.join(dir, "none"), 100);
    expect(r.ok === false && r.reason === "unreadable" && r.error.code).toBe("ENOENT");
  });

  it("readJsonFile goes through it: sizes and a directory are coded", () => {
    const f = path.join(dir, "p.json");
    fs.writeFileSync(f, '{"a":1}');
    expect(readJsonFile(f, { maxBytes: 7 })).toEqual({ a: 1 });
    expect(() => readJsonFile(f, { maxBytes: 6 })).toThrow(
      expect.objectContaining({ code: "ERR_INPUT_TOO_LARGE", message: `${f} is 7 bytes; the limit is 6` }),
    );
    expect(() => readJsonFile(dir)).toThrow(
      expect.objectContaining({
        code: "ERR_ARTIFACT_MISSING",
        message: `cannot read ${dir}: not a regular file`,
      }),
    );
  });
});
