import fs from "node:fs";
import path from "node:path";
import type { SandboxBind } from "@dwm/core";
import type { AttemptFinding } from "@dwm/schemas";
import { type AttemptSpace, type Staged, stagePaths, writeInputs } from "./attempt-space.js";
import { trustedGitEnv, type WorkerCheckout } from "./checkout.js";
import { type GitPort, gitOk } from "./git.js";
import { INPUTS_DIR } from "./inputs.js";

/** A path of the skeleton that is not the view's: a bind of `source` (null: an empty mount point only). */
export interface PrivatePath {
  rel: string;
  source: string | null;
  writable: boolean;
}

/** Every folder on the way down to a private path (the checkout's root `""` included), shallowest first. */
function splitFolders(privates: readonly PrivatePath[]): string[] {
  const splits = new Set<string>([""]);
  for (const p of privates) {
    const parts = p.rel.split("/");
    for (let i = 1; i < parts.length; i++) splits.add(parts.slice(0, i).join("/"));
  }
  return [...splits].sort((a, b) => a.split("/").length - b.split("/").length);
}

/** The mount point of the view's entry `rel` in the skeleton (a link is copied, not bound); null: a special file, left out. */
function mountPoint(view: string, skeleton: string, rel: string, e: fs.Dirent): SandboxBind | null {
  const at = path.join(skeleton, rel);
  if (e.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(path.join(view, rel)), at);
    return null;
  }
  if (e.isDirectory()) fs.mkdirSync(at);
  else if (e.isFile()) fs.writeFileSync(at, "");
  else return null;
  return { source: path.join(view, rel), target: at, writable: false };
}

/** One folder of the skeleton: the binds of the view's entries in it; null when a file of the view is where a folder must be. */
function mountLevel(
  view: string,
  skeleton: string,
  d: string,
  skip: ReadonlySet<string>,
): SandboxBind[] | null {
  const inView = path.join(view, d);
  const st = fs.lstatSync(inView, { throwIfNoEntry: false });
  if (st !== undefined && !st.isDirectory()) return null;
  fs.mkdirSync(path.join(skeleton, d), { recursive: true });
  const binds: SandboxBind[] = [];
  for (const e of st === undefined ? [] : fs.readdirSync(inView, { withFileTypes: true })) {
    const rel = d === "" ? e.name : `${d}/${e.name}`;
    if (skip.has(rel)) {
      if (!e.isDirectory()) return null;
      continue;
    }
    const b = mountPoint(view, skeleton, rel, e);
    if (b !== null) binds.push(b);
  }
  return binds;
}

/**
 * The checkout a worker sees, made of binds: `skeleton` is a folder of empty mount points (and
 * the view's symbolic links) on the path down to each private folder, bound read-only at the
 * checkout's place; every other entry of the view is bound read-only on its mount point; each
 * private folder is bound from the attempt's own space. Null when the view cannot hold a private
 * folder there (a file or a link of the view is in the way): the attempt then needs a checkout.
 */
export function skeletonBinds(
  view: string,
  skeleton: string,
  privates: readonly PrivatePath[],
): SandboxBind[] | null {
  const splits = splitFolders(privates);
  const skip = new Set([...splits, ...privates.map((p) => p.rel)]);
  const binds: SandboxBind[] = [];
  fs.mkdirSync(skeleton, { recursive: true });
  for (const d of splits) {
    const level = mountLevel(view, skeleton, d, skip);
    if (level === null) return null;
    binds.push(...level);
  }
  for (const p of privates) {
    const at = path.join(skeleton, p.rel);
    fs.mkdirSync(at, { recursive: true });
    if (p.source !== null) binds.push({ source: p.source, target: at, writable: p.writable });
  }
  return binds;
}

/**
 * An attempt that runs in the shared view: the AttemptSpace fields the run uses (its `checkout`
 * is the skeleton, the place the worker sees as its checkout), the private output root (its work
 * tree for DWM's git: `<outRoot>/<folder>` is the only folder the worker can write) and the
 * binds that make the checkout.
 */
export interface ViewSpace extends AttemptSpace {
  view: WorkerCheckout;
  folder: string;
  outRoot: string;
  binds: SandboxBind[];
}

/**
 * The attempt's space on a shared view: the inputs, the output root with the base's own files
 * of the folder (so an attempt sees and changes them as in a checkout), DWM's git folder with
 * its index at the base tree and the output root as work tree, and the skeleton. Null when the
 * view cannot hold the folder (see skeletonBinds).
 */
export async function openViewSpace(
  git: GitPort,
  lease: { checkout: WorkerCheckout; gitTemplate?: () => Promise<string> },
  root: string,
  folder: string,
  inputs: readonly { artifact: string; content: Buffer }[],
): Promise<ViewSpace | null> {
  const view = lease.checkout;
  const inputsDir = writeInputs(root, inputs);
  const outRoot = path.join(root, "out");
  const outDir = path.join(outRoot, folder);
  fs.mkdirSync(outDir, { recursive: true });
  const checkout: WorkerCheckout = { dir: path.join(root, "wt"), objectDirs: view.objectDirs };
  const privates: PrivatePath[] = [{ rel: folder, source: outDir, writable: true }];
  if (inputsDir !== null) privates.push({ rel: INPUTS_DIR, source: null, writable: false });
  const binds = skeletonBinds(view.dir, checkout.dir, privates);
  if (binds === null) return null;
  const gitDir = path.join(root, "dwm.git");
  const template = lease.gitTemplate === undefined ? {} : { template: await lease.gitTemplate() };
  const env = await trustedGitEnv(git, { dir: outRoot, objectDirs: view.objectDirs }, gitDir, template);
  // DWM's index starts as the view's (DWM wrote it; the worker sees it read-only): the base tree
  // without a `read-tree` of the whole repository per attempt. Only the folder is staged from it.
  fs.copyFileSync(path.join(view.dir, ".git", "index"), env.GIT_INDEX_FILE as string);
  // The base's own files of the folder (a repair on top of earlier work, say) are the worker's to change.
  if (fs.existsSync(path.join(view.dir, folder))) {
    const listed = await gitOk(git, outRoot, ["ls-files", "-z", "--", folder], { env });
    if (listed !== "") {
      await gitOk(git, outRoot, ["checkout-index", "-f", "-z", "--stdin"], { env, stdin: listed });
    }
  }
  return { root, checkout, inputsDir, gitDir, gitEnv: env, view, folder, outRoot, binds };
}

/** Why DWM does not record a file of the output folder, or null when it is a plain file within the cap. */
function refusal(st: fs.Stats, cap: number): string | null {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isDirectory()) return null;
  if (!st.isFile()) return "not a regular file (a FIFO, socket or device)";
  if (st.nlink > 1) return `a hard link (${st.nlink} names)`;
  if (st.size > cap) return `over ${cap} bytes (${st.size})`;
  return null;
}

/**
 * Take out of the output folder what DWM does not record: symbolic links, special files, hard
 * links (their bytes are reachable by other names DWM does not see) and files over `cap`; each
 * is removed and named in a finding (`ownership-violation` for what points outside the folder,
 * `output-truncated` for the size).
 */
export function screenOutputs(space: ViewSpace, workerId: string | null, cap: number): AttemptFinding[] {
  const links: string[] = [];
  const big: string[] = [];
  const why: string[] = [];
  // Every entry is judged before any is removed: removing one name of a hard link would make the other look plain.
  const refused: string[] = [];
  const visit = (rel: string) => {
    for (const name of fs.readdirSync(path.join(space.outRoot, rel))) {
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(path.join(space.outRoot, r));
      if (st.isDirectory()) visit(r);
      const no = refusal(st, cap);
      if (no === null) continue;
      refused.push(r);
      (st.isFile() && st.nlink === 1 ? big : links).push(r);
      why.push(`${r}: ${no}`);
    }
  };
  if (fs.lstatSync(path.join(space.outRoot, space.folder), { throwIfNoEntry: false })?.isDirectory()) {
    visit(space.folder);
  }
  for (const r of refused) fs.rmSync(path.join(space.outRoot, r), { force: true });
  const findings: AttemptFinding[] = [];
  if (links.length > 0) {
    findings.push({
      code: "ownership-violation",
      message: `${links.length} entr${links.length === 1 ? "y" : "ies"} of the output folder ${space.folder}/ could reach outside it and were not recorded (${why.filter((w) => links.some((l) => w.startsWith(`${l}:`))).join("; ")})`,
      worker_id: workerId,
      paths: links.sort(),
    });
  }
  if (big.length > 0) {
    findings.push({
      code: "output-truncated",
      message: `${big.length} file(s) of the output folder ${space.folder}/ are over ${cap} bytes and were not recorded`,
      worker_id: workerId,
      paths: big.sort(),
    });
  }
  return findings;
}

/** Stage the output folder with DWM's git folder and index (as stageWork does for a checkout); returns the tree and the paths changed since `prevTree`. */
export function stageOutputs(git: GitPort, space: ViewSpace, prevTree: string): Promise<Staged> {
  return stagePaths(git, space.outRoot, space.gitEnv, [space.folder], prevTree);
}
