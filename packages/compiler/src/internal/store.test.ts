import fs from "node:fs";
import path from "node:path";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertOwned, makeRunId, resolveStore, runsForPlan } from "./store.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir();
});
afterEach(() => tmp.cleanup());

describe("makeRunId", () => {
  it("is the plan id and the first 12 hex digits of the digest", () => {
    expect(makeRunId("my-plan", `sha256:${"ab".repeat(32)}`)).toBe("my-plan-abababababab");
  });
  it("makes an unsafe plan id file-name safe", () => {
    expect(makeRunId("../a b/c", `sha256:${"0".repeat(64)}`)).toBe("a-b-c-000000000000");
    expect(makeRunId("///", `sha256:${"0".repeat(64)}`)).toBe("plan-000000000000");
  });
});

describe("resolveStore", () => {
  it("defaults to .dwm/runs inside the repository", () => {
    expect(resolveStore(tmp.path, undefined)).toEqual({
      rel: ".dwm/runs",
      abs: path.join(tmp.path, ".dwm/runs"),
    });
  });
  it.each([
    ["../outside", "ERR_OUT_PATH_UNSAFE"],
    ["/etc", "ERR_OUT_PATH_UNSAFE"],
    ["a/../../b", "ERR_OUT_PATH_UNSAFE"],
    [".", "ERR_OUT_PATH_UNSAFE"],
    [".git/runs", "ERR_OUT_PATH_UNSAFE"],
  ])("refuses %s with %s", (store, code) => {
    expect(() => resolveStore(tmp.path, store)).toThrow(expect.objectContaining({ code }));
  });
  it("refuses a store reached through a symlink", () => {
    const outside = makeTempDir();
    try {
      fs.symlinkSync(outside.path, path.join(tmp.path, "link"));
      expect(() => resolveStore(tmp.path, "link/runs")).toThrow(
        expect.objectContaining({ code: "ERR_OUT_PATH_SYMLINK" }),
      );
    } finally {
      outside.cleanup();
    }
  });
  it("refuses a store path that is a file", () => {
    fs.writeFileSync(path.join(tmp.path, "file"), "x");
    expect(() => resolveStore(tmp.path, "file")).toThrow(
      expect.objectContaining({ code: "ERR_OUT_PATH_UNSAFE" }),
    );
  });
});

describe("ownership", () => {
  it("accepts only a directory whose marker names the run", () => {
    const dir = path.join(tmp.path, "r1");
    fs.mkdirSync(dir);
    expect(() => assertOwned(dir, "r1", "r1")).toThrow(
      expect.objectContaining({ code: "ERR_OUT_PATH_NOT_OWNED" }),
    );
    fs.writeFileSync(
      path.join(dir, ".dwm-run"),
      JSON.stringify({ kind: "run-marker", schema_version: "1", run_id: "r2" }),
    );
    expect(() => assertOwned(dir, "r1", "r1")).toThrow(/belongs to run r2/);
    fs.writeFileSync(
      path.join(dir, ".dwm-run"),
      JSON.stringify({ kind: "run-marker", schema_version: "1", run_id: "r1" }),
    );
    expect(() => assertOwned(dir, "r1", "r1")).not.toThrow();
  });
  it("does not accept a symlinked marker", () => {
    const dir = path.join(tmp.path, "r1");
    fs.mkdirSync(dir);
    const real = path.join(tmp.path, "marker.json");
    fs.writeFileSync(real, JSON.stringify({ kind: "run-marker", schema_version: "1", run_id: "r1" }));
    fs.symlinkSync(real, path.join(dir, ".dwm-run"));
    expect(() => assertOwned(dir, "r1", "r1")).toThrow(
      expect.objectContaining({ code: "ERR_OUT_PATH_NOT_OWNED" }),
    );
  });
  it("runsForPlan finds owned runs of a plan id only", () => {
    const mk = (name: string, planId: string, marker = name) => {
      const d = path.join(tmp.path, name);
      fs.mkdirSync(d);
      fs.writeFileSync(
        path.join(d, ".dwm-run"),
        JSON.stringify({ kind: "run-marker", schema_version: "1", run_id: marker }),
      );
      fs.writeFileSync(path.join(d, "run.json"), JSON.stringify({ kind: "run", plan_id: planId }));
    };
    mk("p-1", "p");
    mk("p-2", "p");
    mk("q-1", "q");
    mk("p-3", "p", "other");
    expect(runsForPlan(tmp.path, "p")).toEqual(["p-1", "p-2"]);
    expect(runsForPlan(path.join(tmp.path, "missing"), "p")).toEqual([]);
  });
});
