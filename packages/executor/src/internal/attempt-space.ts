import fs from "node:fs";
import path from "node:path";
import { type Clock, gitDate, resolveInside } from "@dwm/core";
import { checkoutFlagFindings, type RepositoryFinding } from "../repo-integrity.js";
import {
  createCheckout,
  importIntoRepository,
  readWorkerHead,
  trustedGitEnv,
  type WorkerCheckout,
} from "./checkout.js";
import { type GitPort, gitOk } from "./git.js";
import { copyInputs, EXCLUDE_INPUTS, INPUTS_DIR } from "./inputs.js";
import { SPACE_OWNER_FILE, type SpaceOwner } from "./space-owner.js";

/** Identity of the commit DWM makes on the attempt branch. */
export const DWM_GIT_IDENTITY = { name: "DWM", email: "dwm@dwm.invalid" } as const;

/**
 * Everything one attempt makes, in a fresh folder of the worktree root (outside the repository
 * and every run store): the worker's checkout `wt/`, the handoff inputs `inputs/`, one hand-over
 * folder per job `io/<n>/`, and DWM's own git folder `dwm.git/`, with which DWM stages, commits
 * and hands the work to the repository. Nothing is written into the repository but the attempt
 * branch and its objects, fetched at the end.
 */
export interface AttemptSpace {
  root: string;
  checkout: WorkerCheckout;
  /** Host folder of the handoff inputs (shown read-only at `<checkout>/.dwm-inputs`); null when none. */
  inputsDir: string | null;
  gitDir: string;
  /** Environment of DWM's git on the checkout: DWM's git folder and index, the checkout as work tree. */
  gitEnv: Record<string, string>;
}

/**
 * A fresh folder for one attempt under `root`, holding only its owner marker (so a crash's
 * leftover can be told from a live attempt's folder: removeDeadAttemptSpaces).
 */
export function reserveSpace(root: string, owner: SpaceOwner): string {
  const dir = fs.mkdtempSync(path.join(root, "dwm-wt-"));
  fs.writeFileSync(path.join(dir, SPACE_OWNER_FILE), JSON.stringify(owner));
  return dir;
}

/**
 * The worker's checkout of `base` (git init + alternates: see createCheckout), the inputs, and
 * DWM's git folder with its index at the base tree. Inside a sandbox the inputs are bound over
 * `<checkout>/.dwm-inputs` (made empty here as the mount point); without one they are copied there.
 */
export async function openSpace(
  git: GitPort,
  repo: string,
  base: string,
  root: string,
  inputs: readonly { artifact: string; content: Buffer }[],
  sandboxed: boolean,
): Promise<AttemptSpace> {
  const checkout = await createCheckout(git, repo, base, path.join(root, "wt"));
  const inputsDir = writeInputs(root, inputs);
  if (inputsDir !== null) {
    if (sandboxed) fs.mkdirSync(path.join(checkout.dir, INPUTS_DIR));
    else copyInputs(checkout.dir, inputs);
  }
  const gitDir = path.join(root, "dwm.git");
  const gitEnv = await trustedGitEnv(git, checkout, gitDir);
  await gitOk(git, checkout.dir, ["read-tree", base], { env: gitEnv });
  return { root, checkout, inputsDir, gitDir, gitEnv };
}

/** The host hand-over folder of job `index` (made, empty). */
export function jobIoDir(space: AttemptSpace, index: number): string {
  const dir = path.join(space.root, "io", String(index));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** What staging found: the tree, the paths changed since the tree before, and their `--name-status -z` fields. */
export interface Staged {
  tree: string;
  paths: string[];
  /** `git diff-tree -r -z --no-renames --name-status` of the tree before and `tree`, split on NUL. */
  nameStatus: string[];
}

/**
 * Stage `pathspec` of the work tree `cwd` with DWM's git environment `env` (its own git folder
 * and index); returns the tree and the paths changed since `prevTree`, with their status.
 */
export async function stagePaths(
  git: GitPort,
  cwd: string,
  env: Record<string, string>,
  pathspec: readonly string[],
  prevTree: string,
): Promise<Staged> {
  const opts = { env };
  await gitOk(git, cwd, ["add", "-A", "--", ...pathspec], opts);
  const tree = (await gitOk(git, cwd, ["write-tree"], opts)).trim();
  if (tree === prevTree) return { tree, paths: [], nameStatus: [] };
  const out = await gitOk(
    git,
    cwd,
    ["diff-tree", "-r", "-z", "--no-renames", "--name-status", prevTree, tree],
    opts,
  );
  const nameStatus = out.split("\0");
  const paths: string[] = [];
  for (let i = 0; i + 1 < nameStatus.length; i += 2) {
    const p = nameStatus[i + 1] ?? "";
    if (p !== "") paths.push(p);
  }
  return { tree, paths, nameStatus };
}

/**
 * Stage everything in the checkout (inputs excluded) with DWM's git folder and index: the
 * worker's git config, hooks and index flags have no say. Returns the tree and the paths
 * changed since `prevTree`.
 */
export function stageWork(git: GitPort, space: AttemptSpace, prevTree: string): Promise<Staged> {
  return stagePaths(git, space.checkout.dir, space.gitEnv, [".", EXCLUDE_INPUTS], prevTree);
}

/** Write the handoff inputs into `<root>/inputs` (their host folder); null when there are none. */
export function writeInputs(
  root: string,
  inputs: readonly { artifact: string; content: Buffer }[],
): string | null {
  if (inputs.length === 0) return null;
  const inputsDir = path.join(root, "inputs");
  for (const input of inputs) {
    const dest = resolveInside(inputsDir, input.artifact, "handoff input");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, input.content);
  }
  return inputsDir;
}

/**
 * DWM commits the staged `tree` on the base commit itself, with a fixed identity and the clock's
 * date; returns the head (the base when nothing changed). The worker's own commits are not
 * history DWM keeps: their tree is what DWM staged, their authorship the worker's claim.
 */
export async function commitWork(
  git: GitPort,
  space: AttemptSpace,
  work: { tree: string; base: string; baseTree: string; message: string; clock: Clock },
): Promise<string> {
  if (work.tree === work.baseTree) return work.base;
  const date = gitDate(work.clock.now());
  const out = await gitOk(
    git,
    space.checkout.dir,
    ["commit-tree", work.tree, "-p", work.base, "-m", work.message],
    {
      env: {
        ...space.gitEnv,
        GIT_AUTHOR_NAME: DWM_GIT_IDENTITY.name,
        GIT_AUTHOR_EMAIL: DWM_GIT_IDENTITY.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_NAME: DWM_GIT_IDENTITY.name,
        GIT_COMMITTER_EMAIL: DWM_GIT_IDENTITY.email,
        GIT_COMMITTER_DATE: date,
      },
    },
  );
  return out.trim();
}

/** The attempt's ref (`refs/dwm/…`) in the repository at `head` (on `base`), its objects checked on the way in (importIntoRepository). */
export async function importWork(
  git: GitPort,
  repo: string,
  space: AttemptSpace,
  range: { base: string; head: string },
  ref: string,
): Promise<void> {
  await importIntoRepository(git, repo, space.gitDir, { base: range.base, commit: range.head }, ref);
}

/**
 * What the worker did to its checkout's own git folder that matters: index flags that would hide
 * a change from git (a finding, though DWM's fresh index sees through them), and commits it made
 * (a note: DWM's commit holds their tree, not their history). Read with DWM's git folder; the
 * worker's config is never used.
 */
export async function inspectWorkerGit(
  git: GitPort,
  space: AttemptSpace,
  base: string,
  workerId: string | null,
): Promise<{ findings: RepositoryFinding[]; notes: string[] }> {
  const workerGit = path.join(space.checkout.dir, ".git");
  const notes: string[] = [];
  const head = readWorkerHead(workerGit);
  if (head !== null && head !== base) {
    notes.push(
      "the worker committed in its checkout: DWM's commit holds the work's tree on the base commit, not the worker's history",
    );
  }
  const index = path.join(workerGit, "index");
  if (!fs.lstatSync(index, { throwIfNoEntry: false })?.isFile()) return { findings: [], notes };
  const r = await git.run(space.checkout.dir, ["ls-files", "-z", "-t", "-v"], {
    env: { ...space.gitEnv, GIT_INDEX_FILE: index },
  });
  if (r.exitCode !== 0) {
    notes.push(
      "the worker's index could not be read: its flags were not checked (DWM staged with its own index)",
    );
    return { findings: [], notes };
  }
  return { findings: checkoutFlagFindings(r.stdout, workerId), notes };
}

/** Remove the attempt's folder (the branch keeps the work); null: nothing was made. */
export function removeSpace(root: string | null): void {
  if (root === null) return;
  try {
    fs.rmSync(root, { recursive: true, force: true });
  } catch {
    // A worker can take the permissions off folders of its checkout: give them back, then remove.
    const open = (dir: string) => {
      fs.chmodSync(dir, 0o700);
      for (const e of fs.readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) open(path.join(dir, e.name));
    };
    open(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
