import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner, type ProcessRunner, refSegment } from "@dwm/core";
import { createGit, type GitPort, gitOk } from "./internal/git.js";

/**
 * Remove every worktree of a run that is still registered in the repository (left by a
 * crash): worktrees on branches `dwm/<run_id>/…`. Branches stay. Returns the branches whose
 * worktree was removed.
 */
export async function pruneWorktrees(
  repo: string,
  runId: string,
  ports: {
    processRunner: ProcessRunner;
    env: Readonly<Record<string, string | undefined>>;
    git?: GitPort;
  } = {
    processRunner: nodeProcessRunner,
    env: process.env,
  },
): Promise<string[]> {
  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const prefix = `refs/heads/dwm/${refSegment(runId)}/`;
  return git.admin(repo, async () => {
    const list = await gitOk(git, repo, ["worktree", "list", "--porcelain", "-z"]);
    const removed: string[] = [];
    let wt: string | null = null;
    for (const field of list.split("\0")) {
      if (field.startsWith("worktree ")) wt = field.slice("worktree ".length);
      else if (
        field.startsWith("branch ") &&
        wt !== null &&
        field.slice("branch ".length).startsWith(prefix)
      ) {
        const r = await git.run(repo, ["worktree", "remove", "--force", wt]);
        if (r.exitCode !== 0) fs.rmSync(wt, { recursive: true, force: true });
        // The executor makes each worktree in its own dwm-wt-* folder; remove that too.
        const parent = path.dirname(wt);
        if (path.basename(parent).startsWith("dwm-wt-")) fs.rmSync(parent, { recursive: true, force: true });
        removed.push(field.slice("branch refs/heads/".length));
      }
    }
    await gitOk(git, repo, ["worktree", "prune"]);
    return removed.sort();
  });
}
