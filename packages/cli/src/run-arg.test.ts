// isRunDir, the one test of "is this a run directory" that dwm run, dwm exec and [run] resolution share.
import fs from "node:fs";
import path from "node:path";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { isRunDir, listRuns } from "./run-arg.js";

let dir: TempDir | null = null;
afterEach(() => {
  dir?.cleanup();
  dir = null;
});

describe("isRunDir", () => {
  it("is a directory holding a run.json file; a run.json folder, no run.json or no directory is not", () => {
    dir = makeTempDir("dwm-run-arg-");
    const store = dir.path;
    for (const [name, make] of [
      ["run-a", (d: string) => fs.writeFileSync(path.join(d, "run.json"), "{}")],
      ["folder", (d: string) => fs.mkdirSync(path.join(d, "run.json"))],
      ["empty", () => undefined],
    ] as const) {
      fs.mkdirSync(path.join(store, name));
      make(path.join(store, name));
    }
    expect(isRunDir(path.join(store, "run-a"))).toBe(true);
    expect(isRunDir(path.join(store, "folder"))).toBe(false);
    expect(isRunDir(path.join(store, "empty"))).toBe(false);
    expect(isRunDir(path.join(store, "missing"))).toBe(false);
    expect(listRuns(store)).toEqual(["run-a"]);
  });
});
