import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner } from "@dwm/core";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGit, type GitPort } from "./internal/git.js";
import { createSharedViews } from "./shared-views.js";

let repo: TempDir;
let root: TempDir;
let base: string;
let second: string;

/** git that counts the checkouts it writes (`read-tree --reset -u`: one per view built). */
function countingGit(): { git: GitPort; builds: () => number } {
  const inner = createGit(nodeProcessRunner, process.env);
  let n = 0;
  return {
    git: {
      run(cwd, args, options) {
        if (args[0] === "read-tree" && args.includes("-u")) n++;
        return inner.run(cwd, args, options);
      },
      admin: inner.admin,
    },
    builds: () => n,
  };
}

beforeEach(() => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 200; i++) files[`src/f${i}.txt`] = `file ${i}\n`.repeat(50);
  repo = makeGitRepo(files);
  base = git(repo.path, "rev-parse", "HEAD");
  fs.writeFileSync(path.join(repo.path, "more.txt"), "more\n");
  git(repo.path, "add", "more.txt");
  git(repo.path, "commit", "-qm", "more");
  second = git(repo.path, "rev-parse", "HEAD");
  root = makeTempDir("dwm-views-");
});
afterEach(() => {
  repo.cleanup();
  root.cleanup();
});

function complete(dir: string, commit: string): void {
  expect(git(dir, "status", "--porcelain", "--untracked-files=all")).toBe("");
  expect(git(dir, "write-tree")).toBe(git(repo.path, "rev-parse", `${commit}^{tree}`));
}

describe("createSharedViews", () => {
  it("builds one view for concurrent starts on one base, and none of them sees it half made", async () => {
    const c = countingGit();
    const views = createSharedViews(path.join(root.path, "v"));
    const leases = await Promise.all(Array.from({ length: 8 }, () => views.acquire(c.git, repo.path, base)));
    expect(c.builds()).toBe(1);
    expect(new Set(leases.map((l) => l.checkout.dir))).toEqual(new Set([path.join(root.path, "v", base)]));
    complete(leases[0]?.checkout.dir ?? "", base);
    expect(fs.readdirSync(path.join(root.path, "v"))).toEqual([base]);
    for (const l of leases) l.release();
    views.close();
  });

  it("shares a view with another process's builder on the same root: one wins the rename, the other uses it", async () => {
    const a = createSharedViews(path.join(root.path, "v"));
    const b = createSharedViews(path.join(root.path, "v"));
    const g = createGit(nodeProcessRunner, process.env);
    const [la, lb] = await Promise.all([a.acquire(g, repo.path, base), b.acquire(g, repo.path, base)]);
    expect(la.checkout.dir).toBe(lb.checkout.dir);
    complete(la.checkout.dir, base);
    // No temporary build folder is left behind.
    expect(fs.readdirSync(path.join(root.path, "v"))).toEqual([base]);
    la.release();
    lb.release();
  });

  it("removes a view once a newer base is in use and its last attempt is done, never before; close removes the rest", async () => {
    const g = createGit(nodeProcessRunner, process.env);
    const views = createSharedViews(path.join(root.path, "v"));
    const old = await views.acquire(g, repo.path, base);
    const again = await views.acquire(g, repo.path, base);
    const next = await views.acquire(g, repo.path, second);
    old.release();
    // Still held by `again`.
    complete(path.join(root.path, "v", base), base);
    again.release();
    again.release(); // a second release of one lease changes nothing
    expect(fs.existsSync(path.join(root.path, "v", base))).toBe(false);
    expect(views.bases()).toEqual([second]);
    views.close();
    // Held at close: removed at its release.
    complete(next.checkout.dir, second);
    next.release();
    expect(fs.existsSync(next.checkout.dir)).toBe(false);
    await expect(views.acquire(g, repo.path, second)).rejects.toThrow(/closed/);
  });

  it("keeps the view of the newest base for the next attempt when its holders are done", async () => {
    const c = countingGit();
    const views = createSharedViews(path.join(root.path, "v"));
    (await views.acquire(c.git, repo.path, base)).release();
    (await views.acquire(c.git, repo.path, base)).release();
    expect(c.builds()).toBe(1);
    views.close();
    expect(fs.existsSync(path.join(root.path, "v"))).toBe(false);
  });

  it("makes DWM's empty git folder once for every attempt to copy (one `git init` per run's views, not per attempt)", async () => {
    const inner = createGit(nodeProcessRunner, process.env);
    let inits = 0;
    const counting: GitPort = {
      run(cwd, args, options) {
        if (args[0] === "init" && args.includes("--bare")) inits++;
        return inner.run(cwd, args, options);
      },
      admin: inner.admin,
    };
    const views = createSharedViews(path.join(root.path, "v"));
    const leases = await Promise.all(
      Array.from({ length: 4 }, () => views.acquire(counting, repo.path, base)),
    );
    const made = await Promise.all(leases.map((l) => l.gitTemplate()));
    expect(new Set(made)).toEqual(new Set([path.join(root.path, "v", ".dwm-git-template")]));
    expect(inits).toBe(1);
    const t = made[0] ?? "";
    expect(fs.readdirSync(t).sort()).toEqual(["HEAD", "config", "objects", "refs"]);
    expect(git(t, "rev-parse", "--is-bare-repository")).toBe("true");
    expect(git(t, "for-each-ref")).toBe("");
    expect(views.bases()).toEqual([base]);
    for (const l of leases) l.release();
    views.close();
    expect(fs.existsSync(path.join(root.path, "v"))).toBe(false);
  });
});
