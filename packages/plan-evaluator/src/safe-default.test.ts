import { describe, expect, it } from "vitest";
import { safeDefaultProblem, words } from "./safe-default.js";

describe("safeDefaultProblem", () => {
  it.each([
    "stop before writing and ask for approval",
    "stop before authentication changes and ask for approval",
    "Stop before writing and ask for approval.",
    "stop before  shell use   and ask for user approval",
    "stop before runtime advancement, preserve frontier artifacts, and ask for approval",
    "do not install dependencies without approval",
    "preserve completed batches and ask before writing the next batch",
  ])("accepts %j", (s) => {
    expect(safeDefaultProblem(s)).toBeNull();
  });

  it.each([
    ["stop before writing, then ask for approval", '"then"'],
    ["stop before writing or ask for approval", '"or"'],
    ["stop before writing and continue", '"continue"'],
    ["proceed automatically", '"proceed", "automatically"'],
    ["stop before write/shell and ask for approval", "'/'"],
    ["stop before writing and ask for approval afterwards", '"afterwards"'],
    ["preserve work and ask before after writing", '"after writing"'],
    ["ask for user approval", "does not read"],
    ["stop before writing and ask for approval..", "does not read"],
  ])("rejects %j (%s)", (s, why) => {
    expect(safeDefaultProblem(s)).toContain(why);
  });
});

describe("words", () => {
  it("splits on anything but letters and digits, lower-case", () => {
    expect(words("External-Message to API v2!")).toEqual(["external", "message", "to", "api", "v2"]);
    expect(words("authentication")).not.toContain("then");
  });
});
