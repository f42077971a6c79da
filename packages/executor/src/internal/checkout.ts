import fs from "node:fs";
import path from "node:path";
import { qualifiedRef } from "../refs.js";
import { type GitPort, gitOk } from "./git.js";

/**
 * A worker's checkout: a repository of its own (`git init`, no refs, no hooks, its own config
 * and object folder) whose base objects come from the repository through `alternates`. The
 * worker can commit in it; it cannot change the repository's objects, refs, config or hooks,
 * which it sees read-only if at all. Nothing is done in the repository itself, so creating one
 * needs no queue (unlike `git worktree add`), and removing it is `rm -rf`.
 */
export interface WorkerCheckout {
  /** The work tree (its git folder is `<dir>/.git`). */
  dir: string;
  /** The repository's object folders the checkout reads through alternates (the sandbox shows them read-only). */
  objectDirs: string[];
}

// git follows alternates of alternates this deep (transport.c / object-file.c: 5).
const MAX_ALTERNATE_DEPTH = 5;

/** The repository's object folder and every folder its alternates name, transitively. */
export async function repositoryObjectDirs(git: GitPort, repo: string): Promise<string[]> {
  const rel = (await gitOk(git, repo, ["rev-parse", "--git-path", "objects"])).trim();
  const first = fs.realpathSync(path.resolve(repo, rel));
  const out: string[] = [];
  const visit = (dir: string, depth: number) => {
    if (out.includes(dir) || depth > MAX_ALTERNATE_DEPTH) return;
    out.push(dir);
    const file = path.join(dir, "info", "alternates");
    if (!fs.existsSync(file)) return;
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const l = line.trim();
      if (l === "" || l.startsWith("#")) continue;
      const next = path.resolve(dir, l);
      if (fs.existsSync(next)) visit(fs.realpathSync(next), depth + 1);
    }
  };
  visit(first, 0);
  return out;
}

/** Make `dir` a checkout of `base` (which must be in the repository); `dir` must not exist yet. */
export async function createCheckout(
  git: GitPort,
  repo: string,
  base: string,
  dir: string,
): Promise<WorkerCheckout> {
  const objectDirs = await repositoryObjectDirs(git, repo);
  fs.mkdirSync(dir);
  // No template: no sample hooks, no description; the worker's repository starts empty.
  await gitOk(git, dir, ["init", "--quiet", "--template=", "."]);
  const info = path.join(dir, ".git", "objects", "info");
  fs.mkdirSync(info, { recursive: true });
  fs.writeFileSync(path.join(info, "alternates"), `${objectDirs.join("\n")}\n`);
  await gitOk(git, dir, ["read-tree", "--reset", "-u", base]);
  await gitOk(git, dir, ["update-ref", "--no-deref", "HEAD", base]);
  return { dir, objectDirs };
}

const HEX = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The commit the worker's HEAD names, read from its files: git is never run with the worker's
 * git folder, whose config the worker wrote (core.fsmonitor, hooks, a `commondir` pointing
 * elsewhere would all run code as the operator). Follows a symbolic HEAD through loose refs and
 * packed-refs; anything else (a dangling branch, a ref outside refs/) gives null.
 */
export function readWorkerHead(gitDir: string): string | null {
  const read = (rel: string): string | null => {
    const file = path.join(gitDir, rel);
    if (!isInsideDir(gitDir, file)) return null;
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > 4096) return null;
    return fs.readFileSync(file, "utf8").trim();
  };
  let value = read("HEAD");
  for (let hops = 0; value !== null && hops < 5; hops++) {
    if (HEX.test(value)) return value;
    const ref = /^ref: (refs\/[^\0\s]+)$/.exec(value)?.[1];
    if (ref === undefined || ref.split("/").includes("..")) return null;
    value = read(ref) ?? packedRef(read("packed-refs"), ref);
  }
  return null;
}

function packedRef(packed: string | null, ref: string): string | null {
  if (packed === null) return null;
  for (const line of packed.split("\n")) {
    const [sha, name] = line.split(" ");
    if (name === ref && sha !== undefined && HEX.test(sha)) return sha;
  }
  return null;
}

function isInsideDir(dir: string, file: string): boolean {
  const r = path.relative(dir, file);
  return r !== "" && !r.startsWith("..") && !path.isAbsolute(r);
}

/**
 * Environment for DWM's own git commands on a worker's checkout: a git folder DWM made
 * (`privateGitDir`, with the repository's objects as alternates, the worker's too with
 * `workerObjects`), the checkout
 * as work tree and a fresh index, so neither the worker's config nor its index (skip-worktree,
 * assume-unchanged flags) has any say in what DWM stages.
 */
export async function trustedGitEnv(
  git: GitPort,
  checkout: WorkerCheckout,
  privateGitDir: string,
  options: { workerObjects?: boolean; template?: string } = {},
): Promise<Record<string, string>> {
  if (options.template !== undefined) {
    // A copy of an empty git folder DWM made the same way (emptyGitFolder): no `git init` per attempt.
    fs.cpSync(options.template, privateGitDir, { recursive: true, errorOnExist: true, force: false });
  } else {
    fs.mkdirSync(privateGitDir, { recursive: true });
    await gitOk(git, privateGitDir, ["init", "--quiet", "--bare", "--template=", "."]);
  }
  const info = path.join(privateGitDir, "objects", "info");
  fs.mkdirSync(info, { recursive: true });
  // The worker's objects only on request (to read its commits): an object file planted there
  // under another object's name would otherwise stand in for a blob DWM stages.
  const workerObjects = options.workerObjects ? [path.join(checkout.dir, ".git", "objects")] : [];
  fs.writeFileSync(
    path.join(info, "alternates"),
    `${[...checkout.objectDirs, ...workerObjects].join("\n")}\n`,
  );
  return {
    GIT_DIR: privateGitDir,
    GIT_COMMON_DIR: privateGitDir,
    GIT_WORK_TREE: checkout.dir,
    GIT_INDEX_FILE: path.join(privateGitDir, "index"),
  };
}

/**
 * An empty git folder made as trustedGitEnv makes one (`git init --bare`, no template) at `dir`,
 * under a temporary name renamed into place, to be copied for each attempt (`template`).
 * Returns `dir`; one made there already is used as it is.
 */
export async function emptyGitFolder(git: GitPort, dir: string): Promise<string> {
  if (fs.existsSync(path.join(dir, "HEAD"))) return dir;
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    await gitOk(git, tmp, ["init", "--quiet", "--bare", "--template=", "."]);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Bring `commit` (made in `privateGitDir`, from the worker's objects and DWM's own) into the
 * repository as `ref` (qualifiedRef: `refs/dwm/…`, or a bare branch name under `refs/heads/`).
 * A fetch, so git checks every object the worker wrote
 * (`fetch.fsckObjects`: no `.git` or `..` tree entries, no malformed objects) and copies only
 * what the repository lacks; upload-pack runs in DWM's git folder, never in the worker's.
 */
export async function fetchIntoRepository(
  git: GitPort,
  repo: string,
  privateGitDir: string,
  commit: string,
  ref: string,
): Promise<void> {
  await gitOk(git, privateGitDir, ["update-ref", "refs/dwm/result", commit]);
  await gitOk(git, repo, [
    "-c",
    "fetch.fsckObjects=true",
    "fetch",
    "--quiet",
    "--no-tags",
    "--no-write-fetch-head",
    "--no-auto-gc",
    privateGitDir,
    `+refs/dwm/result:${qualifiedRef(ref)}`,
  ]);
}

// Below this many objects git keeps what it imports loose, at or above it a pack (fetch.unpackLimit's default).
const UNPACK_LIMIT = 100;

/**
 * Bring `commit` (made in `privateGitDir` on `base`, which the repository has) into the repository
 * as `ref` with the checks fetchIntoRepository's fetch makes, in three git commands instead of a
 * fetch's chain (fetch, upload-pack, pack-objects, unpack-objects, the connectivity rev-list)
 * and the ref it needs in DWM's git folder: `pack-objects` packs every object reachable from
 * `commit` and not from `base` (objects the alternates hold included: the pack is complete down
 * to `base`), and the repository reads it with `unpack-objects --strict` (`index-pack --strict`
 * for a large pack, as fetch does), which checks every object (fsck: no `.git` or `..` tree
 * entries, no malformed object, whatever the repository's `fsck.*` settings) and that each object
 * it links to is there before writing any; only then is the ref set. The repository's own
 * configuration has no say in the check (fetch.fsck.* would).
 */
export async function importIntoRepository(
  git: GitPort,
  repo: string,
  privateGitDir: string,
  range: { base: string; commit: string },
  ref: string,
): Promise<void> {
  if (range.commit !== range.base) {
    const packFile = path.join(privateGitDir, "import.pack");
    await gitOk(git, privateGitDir, ["pack-objects", "--revs", "--stdout", "-q"], {
      stdin: `${range.commit}\n^${range.base}\n`,
      stdoutFile: packFile,
    });
    const pack = fs.readFileSync(packFile);
    const count = pack.length >= 12 ? pack.readUInt32BE(8) : 0;
    const read =
      count < UNPACK_LIMIT ? ["unpack-objects", "-q", "--strict"] : ["index-pack", "--stdin", "--strict"];
    await gitOk(git, repo, read, { stdin: pack });
  }
  await gitOk(git, repo, ["update-ref", qualifiedRef(ref), range.commit]);
}
