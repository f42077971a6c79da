import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { coreErrors } from "./errors.js";
import { fsErrorOf } from "./fs-errors.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The error `f` throws. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("nothing thrown");
}

describe("fsErrorOf", () => {
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-fs-errors-"));
    dirs.push(d);
    return d;
  };

  it("a file where a folder is to be made (mkdir EEXIST, recursive or not): ERR_FS_WRONG_KIND naming it", () => {
    const file = path.join(tmp(), "a.txt");
    fs.writeFileSync(file, "x");
    for (const recursive of [false, true]) {
      const e = fsErrorOf(thrown(() => fs.mkdirSync(file, { recursive })));
      expect([e?.code, e?.details]).toEqual([
        "ERR_FS_WRONG_KIND",
        { path: file, syscall: "mkdir", errno: "EEXIST" },
      ]);
      expect(e?.message).toContain("a file is where a folder is to be made");
      expect(e?.hint).toBeDefined();
    }
  });

  it("a file as a folder in a path (ENOTDIR), a folder as a file (EISDIR): ERR_FS_WRONG_KIND", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "a.txt"), "x");
    expect(fsErrorOf(thrown(() => fs.writeFileSync(path.join(dir, "a.txt", "b"), "y")))?.code).toBe(
      "ERR_FS_WRONG_KIND",
    );
    expect(fsErrorOf(thrown(() => fs.readFileSync(dir)))?.code).toBe("ERR_FS_WRONG_KIND");
  });

  it("EEXIST of an exclusive create is the caller's race, not a user's error: null; so are a DwmError and a bug", () => {
    const file = path.join(tmp(), "lock");
    fs.writeFileSync(file, "");
    const race = thrown(() => fs.openSync(file, "wx"));
    expect((race as NodeJS.ErrnoException).code).toBe("EEXIST");
    expect(fsErrorOf(race)).toBeNull();
    expect(fsErrorOf(coreErrors.create("ERR_FS_IO", "x"))).toBeNull();
    expect(fsErrorOf(new TypeError("a bug"))).toBeNull();
  });
});
