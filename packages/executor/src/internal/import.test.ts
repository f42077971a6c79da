// DWM's commit comes into the repository by pack-objects | unpack-objects --strict (index-pack for
// large packs), not fetch: the same checks (fsck of every object, links present) must hold.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner } from "@dwm/core";
import { makeGitRepo, makeTempDir, git as sh, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { importIntoRepository, trustedGitEnv } from "./checkout.js";
import { createGit, gitOk } from "./git.js";

const git = createGit(nodeProcessRunner, process.env);
const IDENTITY = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@t",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@t",
};

let repo: TempDir;
let tmp: TempDir;
let priv: string;
let env: Record<string, string>;
let base: string;
beforeEach(async () => {
  repo = makeGitRepo({ "README.md": "# r\n", "src/a.txt": "a\n" });
  tmp = makeTempDir("dwm-import-");
  base = sh(repo.path, "rev-parse", "HEAD");
  const work = path.join(tmp.path, "out");
  fs.mkdirSync(work);
  priv = path.join(tmp.path, "dwm.git");
  env = await trustedGitEnv(git, { dir: work, objectDirs: [path.join(repo.path, ".git", "objects")] }, priv);
  await gitOk(git, work, ["read-tree", base], { env });
});
afterEach(() => {
  repo.cleanup();
  tmp.cleanup();
});

/** A commit on `base` in DWM's git folder whose tree is `tree`. */
async function commitOf(tree: string): Promise<string> {
  return (
    await gitOk(git, priv, ["commit-tree", tree, "-p", base, "-m", "dwm"], { env: { ...env, ...IDENTITY } })
  ).trim();
}

/** `count` new files under `dir/` staged with DWM's index: the commit holding them. */
async function stagedCommit(dir: string, count: number): Promise<string> {
  const work = env.GIT_WORK_TREE as string;
  fs.mkdirSync(path.join(work, dir), { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(work, dir, `f${i}.json`), `{"i":${i}}\n`);
  await gitOk(git, work, ["add", "-A", "--", dir], { env });
  return commitOf((await gitOk(git, work, ["write-tree"], { env })).trim());
}

const has = (oid: string) => {
  try {
    execFileSync("git", ["cat-file", "-e", oid], { cwd: repo.path, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const packs = () =>
  fs.readdirSync(path.join(repo.path, ".git", "objects", "pack")).filter((f) => f.endsWith(".pack"));

describe("importIntoRepository", () => {
  it("brings a small commit in as loose objects and sets the ref; a large one as one pack", async () => {
    const small = await stagedCommit("check/a", 2);
    const packsBefore = packs();
    await importIntoRepository(git, repo.path, priv, { base, commit: small }, "refs/dwm/r/check/a/1");
    expect(sh(repo.path, "rev-parse", "refs/dwm/r/check/a/1")).toBe(small);
    expect(sh(repo.path, "show", `${small}:check/a/f1.json`)).toBe('{"i":1}');
    expect(packs()).toEqual(packsBefore);
    const large = await stagedCommit("check/b", 120);
    await importIntoRepository(git, repo.path, priv, { base, commit: large }, "refs/dwm/r/check/b/1");
    expect(sh(repo.path, "rev-parse", "refs/dwm/r/check/b/1")).toBe(large);
    expect(sh(repo.path, "show", `${large}:check/b/f119.json`)).toBe('{"i":119}');
    expect(packs().length).toBe(packsBefore.length + 1);
    expect(sh(repo.path, "fsck", "--strict", "--no-dangling")).toBe("");
  });

  it("sets the ref alone when the commit is the base (nothing to import)", async () => {
    await importIntoRepository(git, repo.path, priv, { base, commit: base }, "refs/dwm/r/none/1");
    expect(sh(repo.path, "rev-parse", "refs/dwm/r/none/1")).toBe(base);
  });

  it.each([".git", ".GIT", "..", ".git\u200c"])(
    "refuses a tree with a %j entry, whatever the repository's fsck settings: no object written, no ref",
    async (name) => {
      // The repository tries to let it through: fetch would have honoured fetch.fsck.*.
      sh(repo.path, "config", "fetch.fsck.hasDotgit", "ignore");
      sh(repo.path, "config", "fsck.hasDotgit", "ignore");
      sh(repo.path, "config", "receive.fsck.hasDotgit", "ignore");
      const blob = (await gitOk(git, priv, ["hash-object", "-w", "--stdin"], { stdin: "planted\n" })).trim();
      const bad = (await gitOk(git, priv, ["mktree"], { stdin: `100644 blob ${blob}\t${name}\n` })).trim();
      const commit = await commitOf(bad);
      await expect(
        importIntoRepository(git, repo.path, priv, { base, commit }, "refs/dwm/r/bad/1"),
      ).rejects.toMatchObject({ code: "ERR_EXEC_GIT_FAILED" });
      expect(has(commit)).toBe(false);
      expect(has(bad)).toBe(false);
      expect(sh(repo.path, "for-each-ref", "refs/dwm/")).toBe("");
    },
  );

  it("refuses a large pack (index-pack) holding a .git entry too", async () => {
    const many = await stagedCommit("check/c", 120);
    const tree = sh(priv, "rev-parse", `${many}^{tree}`);
    const blob = (await gitOk(git, priv, ["hash-object", "-w", "--stdin"], { stdin: "planted\n" })).trim();
    const bad = (
      await gitOk(git, priv, ["mktree"], { stdin: `040000 tree ${tree}\tx\n100644 blob ${blob}\t.git\n` })
    ).trim();
    const commit = await commitOf(bad);
    await expect(
      importIntoRepository(git, repo.path, priv, { base, commit }, "refs/dwm/r/bad/1"),
    ).rejects.toMatchObject({ code: "ERR_EXEC_GIT_FAILED" });
    expect(has(commit)).toBe(false);
    expect(sh(repo.path, "for-each-ref", "refs/dwm/")).toBe("");
  });
});
