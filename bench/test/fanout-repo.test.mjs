// The parts of the fan-out side by side with xargs that decide its verdict: the generated
// repository is the same for the same seed, and the comparison of the two sides' results fails
// on any difference.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareChecks, generateRepo, REPO_SIZES, readFloorChecks } from "../fanout-repo.mjs";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-fanout-repo-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const check = (file, ok, lines) => Buffer.from(`{"file":"${file}","ok":${ok},"lines":${lines}}\n`);

describe("compareChecks", () => {
  const a = new Map([
    ["src/a.js", check("src/a.js", true, 10)],
    ["src/b.mjs", check("src/b.mjs", false, 3)],
  ]);

  it("finds equal results equal", () => {
    const b = new Map([...a].map(([k, v]) => [k, Buffer.from(v)]));
    expect(compareChecks(a, b)).toEqual([]);
  });

  it("reports a check whose bytes differ", () => {
    const b = new Map(a);
    b.set("src/b.mjs", check("src/b.mjs", true, 3));
    expect(compareChecks(a, b)).toEqual([
      'src/b.mjs: dwm "{\\"file\\":\\"src/b.mjs\\",\\"ok\\":false,\\"lines\\":3}\\n" != xargs "{\\"file\\":\\"src/b.mjs\\",\\"ok\\":true,\\"lines\\":3}\\n"',
    ]);
  });

  it("reports a difference of one byte (a trailing newline)", () => {
    const b = new Map(a);
    b.set("src/a.js", check("src/a.js", true, 10).subarray(0, -1));
    expect(compareChecks(a, b)).toHaveLength(1);
    expect(compareChecks(a, b)[0]).toMatch(/^src\/a\.js: dwm /);
  });

  it("reports an item on one side only, either way", () => {
    const b = new Map(a);
    b.delete("src/a.js");
    b.set("src/c.cjs", check("src/c.cjs", true, 1));
    expect(compareChecks(a, b)).toEqual(["src/a.js: only in dwm", "src/c.cjs: only in xargs"]);
  });
});

describe("generateRepo", () => {
  const gen = (name, seed) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    return { dir, ...generateRepo(dir, REPO_SIZES.quick, { seed }) };
  };
  const tree = (dir) =>
    execFileSync("git", ["rev-parse", "HEAD^{tree}"], { cwd: dir, encoding: "utf8" }).trim();

  it("is a function of the seed", () => {
    const one = gen("one", 30);
    const two = gen("two", 30);
    const other = gen("other", 31);
    expect(tree(two.dir)).toBe(tree(one.dir));
    expect(tree(other.dir)).not.toBe(tree(one.dir));
    expect(one.files).toBe(REPO_SIZES.quick.files);
    expect(one.jsFiles).toBe(20);
    expect(one.bytes).toBeGreaterThanOrEqual(REPO_SIZES.quick.minBytes);
  });

  it("the full size is at least 2,000 files, 20 MB and 1,000 JavaScript files", () => {
    const { files, jsShare, minBytes } = REPO_SIZES.full;
    expect(files).toBeGreaterThanOrEqual(2_000);
    expect(minBytes).toBeGreaterThanOrEqual(20 * 2 ** 20);
    expect(Math.round(files * jsShare)).toBeGreaterThanOrEqual(1_000);
  });

  it("scripts/check.sh writes the same check.json as xargs would read it back", () => {
    const dir = path.join(tmp, "one");
    const out = path.join(tmp, "one-out");
    const file = execFileSync("sh", ["-c", "ls src/*/m00000.js src/*/*/m00000.js 2>/dev/null | head -1"], {
      cwd: dir,
      encoding: "utf8",
    }).trim();
    execFileSync("sh", ["scripts/check.sh", file], { cwd: dir, env: { ...process.env, CHECK_OUT: out } });
    const lines = fs.readFileSync(path.join(dir, file), "utf8").split("\n").length - 1;
    expect(readFloorChecks(out)).toEqual(new Map([[file, check(file, true, lines)]]));
  });
});
