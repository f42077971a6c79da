import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TempDir {
  path: string;
  /** Remove it (idempotent). */
  cleanup(): void;
}

/** A fresh temporary directory (realpath, so symlink checks see real paths). */
export function makeTempDir(prefix = "dwm-test-"): TempDir {
  const p = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { path: p, cleanup: () => fs.rmSync(p, { recursive: true, force: true }) };
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: "DWM Test",
  GIT_AUTHOR_EMAIL: "test@dwm.invalid",
  GIT_COMMITTER_NAME: "DWM Test",
  GIT_COMMITTER_EMAIL: "test@dwm.invalid",
  GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z",
  GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z",
};

/** Run git in `cwd` with a fixed identity and dates; returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...GIT_ENV } }).trim();
}

/** A temporary git repository with `files` committed on branch main. */
export function makeGitRepo(files: Record<string, string> = { "README.md": "# test\n" }): TempDir {
  const dir = makeTempDir("dwm-repo-");
  git(dir.path, "init", "-q", "-b", "main");
  git(dir.path, "config", "user.name", "DWM Test");
  git(dir.path, "config", "user.email", "test@dwm.invalid");
  git(dir.path, "config", "commit.gpgsign", "false");
  for (const [rel, content] of Object.entries(files)) {
    const f = path.join(dir.path, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content);
  }
  git(dir.path, "add", "-A");
  git(dir.path, "commit", "-q", "-m", "initial");
  return dir;
}
