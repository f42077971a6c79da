import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import { type GitPort, gitOk } from "./internal/git.js";

/**
 * What an attempt must leave as it was in the repository: every ref and HEAD, and the files
 * of the git folder that decide what git runs or believes (config, hooks, info/, alternates,
 * shallow). The sandbox makes changing them impossible; this is the check that it held.
 */
export interface RepositorySnapshot {
  /** `refs/...` (and `HEAD`) → object id, or `ref: <target>` for a symbolic HEAD. */
  refs: Record<string, string>;
  /** Git-folder files (relative to the common git folder, hooks as `hooks/<name>`) → digest. */
  files: Record<string, string>;
  /** Paths of the repository's index carrying skip-worktree or assume-unchanged. */
  flagged: string[];
}

/** A way an attempt changed the repository: refuses the attempt (the work cannot be trusted). */
export interface RepositoryFinding {
  code: "repository-changed";
  message: string;
  worker_id: string | null;
  paths: string[];
}

// Files that make git run something, read objects from elsewhere, or rewrite history.
const ADMIN_FILES = [
  "config",
  "config.worktree",
  "commondir",
  "shallow",
  "info/attributes",
  "info/exclude",
  "info/grafts",
  "info/sparse-checkout",
  "objects/info/alternates",
];

function fileDigest(file: string): string | null {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) return null;
  if (st.isSymbolicLink()) return `symlink:${fs.readlinkSync(file)}`;
  if (!st.isFile()) return `type:${st.isDirectory() ? "dir" : "other"}`;
  return digestBytes(fs.readFileSync(file));
}

/**
 * Index lines of `git ls-files -t -v` whose tag marks a flag: `S`/`s` (skip-worktree) or a
 * lower-case tag (assume-unchanged). Returns the flagged paths, sorted.
 */
export function flaggedPaths(lsFiles: string): string[] {
  const out: string[] = [];
  for (const line of lsFiles.split("\0")) {
    if (line.length < 3 || line[1] !== " ") continue;
    const tag = line[0] ?? "";
    if (tag === "S" || /^[a-z]$/.test(tag)) out.push(line.slice(2));
  }
  return out.sort();
}

// Whether this git knows `for-each-ref --exclude` (2.42+); learned on first use.
let excludeKnown: boolean | null = null;

/**
 * `refname objectname` lines of every ref but those under `skip`: git leaves them out itself
 * where it can (a run's thousands of attempt branches cost a file read each), else DWM does.
 */
async function listRefs(git: GitPort, repo: string, skip: readonly string[]): Promise<string> {
  const args = ["for-each-ref", "--format=%(refname) %(objectname)"];
  if (skip.length > 0 && excludeKnown !== false) {
    const r = await git.run(repo, [...args, ...skip.map((p) => `--exclude=${p}`)]);
    if (r.exitCode === 0) {
      excludeKnown = true;
      return r.stdout;
    }
    excludeKnown = false;
  }
  const all = await gitOk(git, repo, args);
  return all
    .split("\n")
    .filter((l) => !skip.some((p) => l.startsWith(p)))
    .join("\n");
}

/**
 * The repository's refs (but those under `skipRefs`), admin files and index flags, read with git
 * and the file system.
 */
export async function snapshotRepository(
  git: GitPort,
  repo: string,
  skipRefs: readonly string[] = [],
): Promise<RepositorySnapshot> {
  // One process for the layout and whether the repository is bare (each git process costs a start).
  const [gitDirRel = "", commonRel = "", hooksRel = "", isBare = ""] = (
    await gitOk(git, repo, [
      "rev-parse",
      "--git-dir",
      "--git-common-dir",
      "--git-path",
      "hooks",
      "--is-bare-repository",
    ])
  )
    .trim()
    .split("\n");
  const gitDir = path.resolve(repo, gitDirRel);
  const common = path.resolve(repo, commonRel);
  const refs: Record<string, string> = {};
  const list = await listRefs(git, repo, skipRefs);
  for (const line of list.split("\n")) {
    const [name, id] = line.split(" ");
    if (name && id) refs[name] = id;
  }
  const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
  refs.HEAD = head;
  const files: Record<string, string> = {};
  for (const rel of ADMIN_FILES) {
    const d = fileDigest(path.join(common, rel));
    if (d !== null) files[rel] = d;
  }
  // The hooks folder, and the one core.hooksPath names when set (a changed config is caught above).
  const hookDirs: [string, string][] = [["hooks", path.join(common, "hooks")]];
  const configured = path.resolve(repo, hooksRel);
  if (configured !== hookDirs[0]?.[1]) hookDirs.push(["hooksPath", configured]);
  for (const [label, dir] of hookDirs) {
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
      const d = fileDigest(path.join(dir, name));
      if (d !== null) files[`${label}/${name}`] = d;
    }
  }
  const bare = isBare === "true";
  const flagged = bare ? [] : flaggedPaths(await gitOk(git, repo, ["ls-files", "-z", "-t", "-v"]));
  return { refs, files, flagged };
}

/** What the attempt may change, besides nothing. */
export interface RepositoryAllowance {
  /** Refs the attempt itself writes (its own branch). */
  own: readonly string[];
  /**
   * Values other refs may have taken meanwhile because DWM itself wrote them (a run loop
   * merging other packets into the integration branch): ref → allowed object ids.
   */
  dwmWrites?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Ref namespaces left to their writers (DWM's own, written by other attempts and the run loop meanwhile). */
  ignorePrefixes?: readonly string[];
}

function diffKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}

/**
 * Findings for every way the repository differs between two snapshots that the attempt was
 * not allowed to cause: a moved, made or deleted ref (other than its own, or one DWM wrote),
 * a changed config, hook or admin file, an index path newly flagged skip-worktree or
 * assume-unchanged. No finding: the repository is as it was.
 */
export function compareRepositorySnapshots(
  before: RepositorySnapshot,
  after: RepositorySnapshot,
  allowance: RepositoryAllowance,
): RepositoryFinding[] {
  const findings: RepositoryFinding[] = [];
  const refs = diffKeys(before.refs, after.refs).filter((r) => {
    if (allowance.own.includes(r)) return false;
    if (allowance.ignorePrefixes?.some((p) => r.startsWith(p))) return false;
    const now = after.refs[r];
    return !(now !== undefined && allowance.dwmWrites?.get(r)?.has(now));
  });
  if (refs.length > 0) {
    findings.push({
      code: "repository-changed",
      message: `the attempt changed ${refs.length} ref(s) of the repository besides its own branch: ${refs.join(", ")}`,
      worker_id: null,
      paths: refs,
    });
  }
  const files = diffKeys(before.files, after.files);
  if (files.length > 0) {
    findings.push({
      code: "repository-changed",
      message: `the attempt changed the repository's git configuration or hooks: ${files.join(", ")}`,
      worker_id: null,
      paths: files,
    });
  }
  const flagged = after.flagged.filter((p) => !before.flagged.includes(p));
  if (flagged.length > 0) {
    findings.push({
      code: "repository-changed",
      message: `the attempt set skip-worktree or assume-unchanged on ${flagged.length} path(s) of the repository's index`,
      worker_id: null,
      paths: flagged,
    });
  }
  return findings;
}

/**
 * Findings for index flags in a worker's own checkout (`git ls-files -t -v` of its index, read
 * by DWM): a fresh checkout has none, so any flag is the worker hiding a change from `git add`.
 */
export function checkoutFlagFindings(lsFiles: string, workerId: string | null): RepositoryFinding[] {
  const flagged = flaggedPaths(lsFiles);
  if (flagged.length === 0) return [];
  return [
    {
      code: "repository-changed",
      message: `the worker set skip-worktree or assume-unchanged on ${flagged.length} path(s) of its checkout's index`,
      worker_id: workerId,
      paths: flagged,
    },
  ];
}
