import { describe, expect, it } from "vitest";
import { type Attribution, attribute, changedFiles } from "./changes.js";

describe("changedFiles", () => {
  it("reads git's NUL-separated name-status pairs, names each file's workers and sorts by path", () => {
    const touchedBy: Attribution = new Map();
    attribute(touchedBy, "writer", ["src/b.ts", "src/a.ts"]);
    attribute(touchedBy, "checker", ["src/a.ts"]);
    attribute(touchedBy, "writer", ["src/a.ts"]);
    const ns = ["M", "src/b.ts", "A", "src/a.ts", "D", "old.txt", "T", "link", "X", "odd", ""];
    expect(changedFiles(ns, touchedBy)).toEqual([
      { path: "link", status: "type-changed", workers: [] },
      { path: "odd", status: "modified", workers: [] },
      { path: "old.txt", status: "deleted", workers: [] },
      { path: "src/a.ts", status: "added", workers: ["checker", "writer"] },
      { path: "src/b.ts", status: "modified", workers: ["writer"] },
    ]);
  });

  it("has no files for empty output, and skips a pair without a path", () => {
    expect(changedFiles([""], new Map())).toEqual([]);
    expect(changedFiles(["M", "", "A", "x"], new Map())).toEqual([
      { path: "x", status: "added", workers: [] },
    ]);
  });
});
