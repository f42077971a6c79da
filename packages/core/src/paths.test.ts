import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkRelativePath, isInside, resolveInside } from "./paths.js";

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-paths-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("resolveInside", () => {
  it("resolves plain relative paths, existing or not", () => {
    expect(resolveInside(root, "a/b.json")).toBe(path.join(root, "a/b.json"));
    expect(resolveInside(root, "./a//b")).toBe(path.join(root, "a/b"));
  });

  it.each(["../x", "a/../../x", "a/..", "/etc/passwd", "C:/x", "a\\b", "", ".", "a\0b"])(
    "refuses %j as unsafe",
    (p) => {
      expect(code(() => resolveInside(root, p))).toBe("ERR_OUT_PATH_UNSAFE");
    },
  );

  it("refuses a symlinked component, even one that points inside", () => {
    fs.mkdirSync(path.join(root, "real"));
    fs.symlinkSync(path.join(root, "real"), path.join(root, "link"));
    fs.symlinkSync("/tmp", path.join(root, "out"));
    expect(code(() => resolveInside(root, "link/x"))).toBe("ERR_OUT_PATH_SYMLINK");
    expect(code(() => resolveInside(root, "out/x"))).toBe("ERR_OUT_PATH_SYMLINK");
    expect(code(() => resolveInside(root, "out"))).toBe("ERR_OUT_PATH_SYMLINK");
    expect(resolveInside(root, "real/x")).toBe(path.join(root, "real/x"));
  });

  it("normalises", () => {
    expect(checkRelativePath("a/./b/")).toBe("a/b");
    expect(isInside(root, path.join(root, "a"))).toBe(true);
    expect(isInside(root, `${root}-sibling`)).toBe(false);
  });
});
