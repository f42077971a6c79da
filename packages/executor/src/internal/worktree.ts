import fs from "node:fs";
import path from "node:path";
import { type Clock, gitDate, isInside } from "@dwm/core";
import { type GitPort, gitOk } from "./git.js";
import { EXCLUDE_INPUTS } from "./inputs.js";

/** Identity of the commit DWM makes on the attempt branch. */
export const DWM_GIT_IDENTITY = { name: "DWM", email: "dwm@dwm.invalid" } as const;

/**
 * An attempt's checkout as a git worktree of the repository on the attempt branch: `<parent>/wt`,
 * the parent a fresh folder of the worktree root.
 */
export interface Checkout {
  parent: string;
  worktree: string;
}

/** A fresh folder for the worktree under `root` (outside the repository); nothing is checked out yet. */
export function reserveCheckout(root: string): Checkout {
  const parent = fs.mkdtempSync(path.join(root, "dwm-wt-"));
  return { parent, worktree: path.join(parent, "wt") };
}

/** `git worktree add` of the attempt branch at the base commit, through the repository's admin queue. */
export async function addWorktree(
  git: GitPort,
  repo: string,
  worktree: string,
  branch: string,
  baseCommit: string,
): Promise<void> {
  await git.admin(repo, async () => {
    const add = ["worktree", "add", "--quiet", "-B", branch, worktree, baseCommit];
    if ((await git.run(repo, add)).exitCode === 0) return;
    // A worktree record whose folder is gone (a crashed attempt) can hold the branch: prune, retry once.
    await gitOk(git, repo, ["worktree", "prune"]);
    await gitOk(git, repo, add);
  });
}

/**
 * `git add -A` in the worktree (inputs excluded); returns notes. A worker killed in the middle of
 * its own git command leaves index.lock behind; its process group is dead by now, so the lock is stale.
 */
async function stageAll(git: GitPort, wt: string, repo: string): Promise<string[]> {
  const args = ["add", "-A", "--", ".", EXCLUDE_INPUTS];
  const r = await git.run(wt, args);
  if (r.exitCode === 0) return [];
  const notes: string[] = [];
  const lock = /Unable to create '([^']+index\.lock)'/.exec(r.stderr)?.[1];
  if (
    lock !== undefined &&
    isInside(path.join(fs.realpathSync(repo), ".git"), fs.realpathSync(path.dirname(lock)))
  ) {
    fs.rmSync(lock, { force: true });
    notes.push("removed a stale index.lock a worker left in the worktree");
  }
  await gitOk(git, wt, args);
  return notes;
}

/** Stage everything an invocation left (inputs excluded): the tree now, and the paths changed since `prevTree`. */
export async function stageChanges(
  git: GitPort,
  wt: string,
  repo: string,
  prevTree: string,
): Promise<{ tree: string; paths: string[]; notes: string[] }> {
  const notes = await stageAll(git, wt, repo);
  const tree = (await gitOk(git, wt, ["write-tree"])).trim();
  if (tree === prevTree) return { tree, paths: [], notes };
  const out = await gitOk(git, wt, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", prevTree, tree]);
  return { tree, paths: out.split("\0").filter((s) => s !== ""), notes };
}

/**
 * DWM commits the staged `tree` itself, with a fixed identity and the clock's date, and points the
 * attempt branch at the result; returns the head commit (the worktree's HEAD when nothing changed).
 */
export async function commitWork(
  git: GitPort,
  wt: string,
  work: { tree: string; branch: string; message: string; clock: Clock },
): Promise<string> {
  const [headNow = "", headTree = "", branchTip = ""] = (
    await gitOk(git, wt, ["rev-parse", "HEAD", "HEAD^{tree}", `refs/heads/${work.branch}`])
  ).split("\n");
  let head = headNow;
  if (work.tree !== headTree) {
    const date = gitDate(work.clock.now());
    head = (
      await gitOk(git, wt, ["commit-tree", work.tree, "-p", headNow, "-m", work.message], {
        env: {
          GIT_AUTHOR_NAME: DWM_GIT_IDENTITY.name,
          GIT_AUTHOR_EMAIL: DWM_GIT_IDENTITY.email,
          GIT_AUTHOR_DATE: date,
          GIT_COMMITTER_NAME: DWM_GIT_IDENTITY.name,
          GIT_COMMITTER_EMAIL: DWM_GIT_IDENTITY.email,
          GIT_COMMITTER_DATE: date,
        },
      })
    ).trim();
  }
  if (head !== branchTip) await gitOk(git, wt, ["update-ref", `refs/heads/${work.branch}`, head]);
  return head;
}

/** Remove the worktree (the branch keeps the work) and its folder; git failures are ignored (it runs in a `finally`). */
export async function removeCheckout(git: GitPort, repo: string, checkout: Checkout | null): Promise<void> {
  if (checkout === null) return;
  const wt = checkout.worktree;
  await git
    .admin(repo, async () => {
      const r = await git.run(repo, ["worktree", "remove", "--force", wt]);
      if (r.exitCode !== 0) {
        fs.rmSync(wt, { recursive: true, force: true });
        await git.run(repo, ["worktree", "prune"]);
      }
    })
    .catch(() => undefined);
  fs.rmSync(checkout.parent, { recursive: true, force: true });
}
