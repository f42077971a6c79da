import { describe, expect, it } from "vitest";
import { isTestConfigPath, isTestPath, parseDiff, scriptPathsOf } from "./diff.js";

describe("parseDiff", () => {
  it("reads added, deleted, renamed, binary and quoted files, with their lines", () => {
    const text = [
      "diff --git a/src/new.ts b/src/new.ts",
      "new file mode 100644",
      "index 0000000..1111111",
      "--- /dev/null",
      "+++ b/src/new.ts",
      "@@ -0,0 +1,2 @@",
      "+export const a = 1;",
      "+--- not a header inside a hunk",
      "diff --git a/old.txt b/old.txt",
      "deleted file mode 100644",
      "--- a/old.txt",
      "+++ /dev/null",
      "@@ -1 +0,0 @@",
      "-gone",
      "diff --git a/a.md b/b.md",
      "similarity index 90%",
      "rename from a.md",
      "rename to b.md",
      "diff --git a/img.png b/img.png",
      "GIT binary patch",
      "literal 1",
      'diff --git "a/sp ace.txt" "b/sp ace.txt"',
      '--- "a/sp ace.txt"',
      '+++ "b/sp ace.txt"',
      "@@ -1 +1 @@",
      "-x",
      "+y",
      "",
    ].join("\r\n");
    expect(parseDiff(text)).toEqual([
      {
        path: "src/new.ts",
        oldPath: "src/new.ts",
        status: "added",
        binary: false,
        added: ["export const a = 1;", "--- not a header inside a hunk"],
        removed: [],
      },
      { path: "old.txt", oldPath: "old.txt", status: "deleted", binary: false, added: [], removed: ["gone"] },
      { path: "b.md", oldPath: "a.md", status: "renamed", binary: false, added: [], removed: [] },
      { path: "img.png", oldPath: "img.png", status: "modified", binary: true, added: [], removed: [] },
      {
        path: "sp ace.txt",
        oldPath: "sp ace.txt",
        status: "modified",
        binary: false,
        added: ["y"],
        removed: ["x"],
      },
    ]);
  });

  it("ignores text before the first file", () => {
    expect(parseDiff("+stray\n-line\n")).toEqual([]);
  });
});

describe("paths and scripts", () => {
  it("tells test files and test-runner config by their names", () => {
    expect(
      ["src/a.test.ts", "tests/x.py", "pkg/test_a.py", "a_test.go", "FooTest.java"].map(isTestPath),
    ).toEqual([true, true, true, true, true]);
    expect(isTestPath("src/testing.ts")).toBe(false);
    expect(
      ["vitest.config.ts", "jest.config.mjs", "pytest.ini", ".mocharc.json"].map(isTestConfigPath),
    ).toEqual([true, true, true, true]);
    expect(isTestConfigPath("vite.config.ts")).toBe(false);
  });

  it("names the script files a command runs, never flags, variables, URLs or paths outside the repository", () => {
    expect(
      scriptPathsOf("FOO=1 node ./scripts/check.mjs --strict data.json && sh tools/x.sh $HOME/a.sh"),
    ).toEqual(["scripts/check.mjs", "tools/x.sh"]);
    expect(scriptPathsOf(["python", "/abs/run.py", "../up.py", "ok.py"])).toEqual(["ok.py"]);
  });
});
