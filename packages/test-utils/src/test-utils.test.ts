import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FakeClock, FakeProcessRunner, git, makeGitRepo } from "./index.js";

describe("test-utils", () => {
  it("FakeClock steps only as told", () => {
    const c = new FakeClock("2026-01-01T00:00:00.000Z", 1000);
    expect(c.now()).toBe("2026-01-01T00:00:00.000Z");
    expect(c.now()).toBe("2026-01-01T00:00:01.000Z");
    c.advance(60_000);
    expect(c.now()).toBe("2026-01-01T00:01:02.000Z");
  });
  it("FakeProcessRunner records calls", async () => {
    const r = new FakeProcessRunner((req) => ({ exitCode: req.argv.length }));
    expect((await r.run({ argv: ["a", "b"], cwd: "/", env: {} })).exitCode).toBe(2);
    expect(r.calls).toHaveLength(1);
  });
  it("makeGitRepo commits the files deterministically", () => {
    const a = makeGitRepo({ "x.txt": "1\n" });
    const b = makeGitRepo({ "x.txt": "1\n" });
    expect(git(a.path, "rev-parse", "HEAD")).toBe(git(b.path, "rev-parse", "HEAD"));
    expect(fs.readFileSync(path.join(a.path, "x.txt"), "utf8")).toBe("1\n");
    a.cleanup();
    b.cleanup();
  });
});
