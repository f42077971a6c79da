import type { GitPort } from "@dwm/executor";
import type { JournalEvent, RunState } from "@dwm/schemas";

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The commit a run's integration branch must hold: the last merge the journal recorded, else
 * (nothing was merged) the commit the run started from.
 */
export function integrationCommitOf(
  events: readonly JournalEvent[],
  baseCommit: string | null,
): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e?.type === "integration.merged") return e.data.commit;
  }
  return baseCommit;
}

/** The commit `ref` names, or null when there is none. */
export async function commitOf(git: GitPort, repo: string, ref: string): Promise<string | null> {
  const r = await git.run(repo, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  const oid = r.stdout.trim();
  return r.exitCode === 0 && OID.test(oid) ? oid : null;
}

/** Whether commit `a` is `b` or an ancestor of it. */
export async function isAncestor(git: GitPort, repo: string, a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  return (await git.run(repo, ["merge-base", "--is-ancestor", a, b])).exitCode === 0;
}

/** The branch HEAD names in `repo` (without refs/heads/), or null on a detached HEAD. */
export async function currentBranch(git: GitPort, repo: string): Promise<string | null> {
  const r = await git.run(repo, ["symbolic-ref", "--quiet", "HEAD"]);
  const ref = r.stdout.trim();
  return r.exitCode === 0 && ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null;
}

/** Where a completed run's result stands: the branch it goes to by default, and whether it is there. */
export interface Landing {
  /** The branch the run started from (journaled at run.opened), else null. */
  branch: string | null;
  /** Whether that branch holds the integration commit already (false without a branch). */
  landed: boolean;
  /** Without a branch: the branch checked out now (null on a detached HEAD), to offer `--into`. */
  here: string | null;
}

/** `dwm land` with what it needs to work (`--into` the branch checked out now when the run recorded none); null when no branch is known. */
export function landArgv(refArgs: readonly string[], landing: Landing): string[] | null {
  if (landing.branch !== null) return ["dwm", "land", ...refArgs];
  if (landing.here === null) return null;
  return ["dwm", "land", ...refArgs.slice(0, 1), "--into", landing.here, ...refArgs.slice(1)];
}

/** Where a completed run's result stands (status and next name `dwm land` until it is landed). */
export async function landingOf(
  git: GitPort,
  repo: string,
  state: RunState,
  events: readonly JournalEvent[],
  baseCommit: string | null,
): Promise<Landing> {
  const branch = state.branch ?? null;
  if (branch === null) return { branch, landed: false, here: await currentBranch(git, repo) };
  const commit = integrationCommitOf(events, baseCommit);
  const tip = await commitOf(git, repo, `refs/heads/${branch}`);
  const landed = commit !== null && tip !== null && (await isAncestor(git, repo, commit, tip));
  return { branch, landed, here: null };
}
