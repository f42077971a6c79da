import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner } from "@dwm/core";
import { git, makeGitRepo } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { createGit } from "./internal/git.js";
import {
  compareRepositorySnapshots,
  flaggedPaths,
  type RepositorySnapshot,
  snapshotRepository,
} from "./repo-integrity.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const snap = (s: Partial<RepositorySnapshot> = {}): RepositorySnapshot => ({
  refs: { HEAD: "ref: refs/heads/main", "refs/heads/main": A, "refs/heads/dwm/r/integration": A },
  files: { config: "sha256:1" },
  flagged: [],
  ...s,
});

describe("compareRepositorySnapshots", () => {
  it("finds nothing when only the attempt's own branch moved", () => {
    const after = snap({ refs: { ...snap().refs, "refs/heads/dwm/r/p/1": B } });
    expect(compareRepositorySnapshots(snap(), after, { own: ["refs/heads/dwm/r/p/1"] })).toEqual([]);
  });

  it("finds a moved, made or deleted ref, a symbolic HEAD retargeted, and accepts only what DWM wrote", () => {
    const before = snap();
    const { "refs/heads/main": _main, ...rest } = before.refs;
    const after = snap({
      refs: { ...rest, HEAD: "ref: refs/heads/evil", "refs/heads/dwm/r/integration": C, "refs/tags/x": B },
    });
    expect(compareRepositorySnapshots(before, after, { own: [] })).toEqual([
      {
        code: "repository-changed",
        message:
          "the attempt changed 4 ref(s) of the repository besides its own branch: HEAD, refs/heads/dwm/r/integration, refs/heads/main, refs/tags/x",
        worker_id: null,
        paths: ["HEAD", "refs/heads/dwm/r/integration", "refs/heads/main", "refs/tags/x"],
      },
    ]);
    const dwmWrites = new Map([["refs/heads/dwm/r/integration", new Set([C])]]);
    expect(compareRepositorySnapshots(before, after, { own: [], dwmWrites })[0]?.paths).toEqual([
      "HEAD",
      "refs/heads/main",
      "refs/tags/x",
    ]);
  });

  it("finds changed config, hooks and admin files, and newly flagged index paths", () => {
    const after = snap({
      files: { config: "sha256:2", "hooks/pre-commit": "sha256:3" },
      flagged: ["scripts/check.sh"],
    });
    expect(compareRepositorySnapshots(snap(), after, { own: [] }).map((f) => [f.message, f.paths])).toEqual([
      [
        "the attempt changed the repository's git configuration or hooks: config, hooks/pre-commit",
        ["config", "hooks/pre-commit"],
      ],
      [
        "the attempt set skip-worktree or assume-unchanged on 1 path(s) of the repository's index",
        ["scripts/check.sh"],
      ],
    ]);
  });
});

describe("flaggedPaths", () => {
  it("reads skip-worktree (S, s) and assume-unchanged (lower-case tags) from ls-files -t -v -z", () => {
    expect(flaggedPaths("H a\0S b c\0h d\0s e\0M f\0")).toEqual(["b c", "d", "e"]);
    expect(flaggedPaths("")).toEqual([]);
  });
});

describe("snapshotRepository", () => {
  it("sees what a hostile worker does to a repository it can write (without a sandbox)", async () => {
    const repo = makeGitRepo({ "scripts/check.sh": "exit 1\n", "README.md": "x\n" });
    try {
      const g = createGit(nodeProcessRunner, { PATH: process.env.PATH });
      const before = await snapshotRepository(g, repo.path);
      expect(Object.keys(before.refs).sort()).toEqual(["HEAD", "refs/heads/main"]);
      expect(Object.keys(before.files)).toContain("config");
      git(repo.path, "update-index", "--skip-worktree", "scripts/check.sh");
      git(repo.path, "config", "core.hooksPath", "/tmp/hooks");
      git(repo.path, "branch", "dwm/r/p/1");
      git(repo.path, "commit", "-q", "--allow-empty", "-m", "moved");
      fs.writeFileSync(path.join(repo.path, ".git", "hooks", "post-checkout"), "#!/bin/sh\n");
      const after = await snapshotRepository(g, repo.path);
      expect(
        compareRepositorySnapshots(before, after, { own: ["refs/heads/dwm/r/p/1"] }).map((f) => f.paths),
      ).toEqual([["refs/heads/main"], ["config", "hooks/post-checkout"], ["scripts/check.sh"]]);
    } finally {
      repo.cleanup();
    }
  });
});

describe("snapshotRepository with refs left to their writers", () => {
  it("lists every ref but those under the skipped namespaces, whatever git's version", async () => {
    const repo = makeGitRepo({ "a.txt": "a\n" });
    try {
      const head = git(repo.path, "rev-parse", "HEAD");
      git(repo.path, "update-ref", "refs/heads/dwm/r/p/1", head);
      git(repo.path, "update-ref", "refs/dwm/evidence/x", head);
      git(repo.path, "update-ref", "refs/tags/v1", head);
      const g = createGit(nodeProcessRunner, process.env);
      const all = await snapshotRepository(g, repo.path);
      expect(Object.keys(all.refs).sort()).toEqual([
        "HEAD",
        "refs/dwm/evidence/x",
        "refs/heads/dwm/r/p/1",
        "refs/heads/main",
        "refs/tags/v1",
      ]);
      for (let i = 0; i < 2; i++) {
        const some = await snapshotRepository(g, repo.path, ["refs/heads/dwm/", "refs/dwm/"]);
        expect(Object.keys(some.refs).sort()).toEqual(["HEAD", "refs/heads/main", "refs/tags/v1"]);
      }
    } finally {
      repo.cleanup();
    }
  });
});
