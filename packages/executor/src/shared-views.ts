import fs from "node:fs";
import path from "node:path";
import {
  createCheckout,
  emptyGitFolder,
  repositoryObjectDirs,
  type WorkerCheckout,
} from "./internal/checkout.js";
import type { GitPort } from "./internal/git.js";
import { SPACE_OWNER_FILE, spaceOwner } from "./internal/space-owner.js";

/** One shared view in use by one attempt: give it back with `release` once the attempt is done with it. */
export interface ViewLease {
  checkout: WorkerCheckout;
  /** An empty git folder (`git init --bare`) an attempt copies as DWM's own: made on first call, once per run's views. */
  gitTemplate(): Promise<string>;
  release(): void;
}

/**
 * Read-only checkouts shared by the attempts that need no checkout of their own (see
 * viewEligibility): one per base commit, made once, removed once no attempt holds it and a newer
 * one is in use, or at `close` (run end).
 */
export interface SharedViews {
  /** The view of `base` (made when no attempt holds one yet); concurrent calls for one base share one build. */
  acquire(git: GitPort, repo: string, base: string): Promise<ViewLease>;
  /** Remove every view no attempt holds; a view still held is removed when its last lease is released. */
  close(): void;
  /** Bases with a view on disk now (tests, diagnostics). */
  bases(): string[];
}

interface Entry {
  built: Promise<WorkerCheckout>;
  holders: number;
  retired: boolean;
}

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** Remove a view folder (DWM made every file of it; nothing a worker wrote is in it). */
function removeView(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Build `<root>/<base>` as a checkout of `base`: made under a temporary name and renamed into
 * place, so no attempt (of this process or another sharing `root`) ever sees it half made; a
 * view another builder renamed into place first is used as it is.
 */
async function buildView(git: GitPort, repo: string, base: string, root: string): Promise<WorkerCheckout> {
  const dir = path.join(root, base);
  if (fs.existsSync(path.join(dir, ".git"))) {
    return { dir, objectDirs: await repositoryObjectDirs(git, repo) };
  }
  const tmp = fs.mkdtempSync(path.join(root, `.build-${base.slice(0, 12)}-`));
  try {
    const made = await createCheckout(git, repo, base, path.join(tmp, "v"));
    try {
      fs.renameSync(made.dir, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
    }
    return { dir, objectDirs: made.objectDirs };
  } finally {
    removeView(tmp);
  }
}

/** Make the views' folder, with its owner marker when the run is named (once: the marker is never rewritten). */
function makeRoot(root: string, runId: string | undefined): void {
  if (fs.existsSync(root)) return;
  fs.mkdirSync(root, { recursive: true });
  // The same marker as an attempt folder's: a crash's leftover views go with removeDeadAttemptSpaces.
  if (runId !== undefined)
    fs.writeFileSync(path.join(root, SPACE_OWNER_FILE), JSON.stringify(spaceOwner(runId)));
}

/**
 * Shared views under `root` (a folder of their own, outside the repository and every run store,
 * made if missing, named `dwm-views-…` by the dispatcher). With `runId` the folder carries the
 * owner marker of attempt folders (run, pid, host), so a crash's leftover is swept like theirs.
 * The dispatcher makes one per run and closes it at run end.
 */
export function createSharedViews(root: string, options: { runId?: string } = {}): SharedViews {
  const entries = new Map<string, Entry>();
  let closed = false;
  let template: Promise<string> | null = null;
  const drop = (base: string, e: Entry) => {
    if (e.holders > 0 || !e.retired) return;
    entries.delete(base);
    removeView(path.join(root, base));
    // The run's folder goes with its last view once the run is done with them.
    if (closed && entries.size === 0) fs.rmSync(root, { recursive: true, force: true });
  };
  return {
    async acquire(git, repo, base) {
      if (!OID.test(base)) throw new Error(`shared view: ${base} is not a commit id`);
      if (closed) throw new Error("shared views are closed");
      makeRoot(root, options.runId);
      let e = entries.get(base);
      if (e === undefined) {
        // A newer base: the views of older ones go once their last attempt is done.
        for (const [b, other] of entries) {
          other.retired = true;
          drop(b, other);
        }
        const built = buildView(git, repo, base, root);
        e = { built, holders: 0, retired: false };
        entries.set(base, e);
        built.catch(() => {
          if (entries.get(base) === e) entries.delete(base);
        });
      }
      e.holders++;
      const entry = e;
      let checkout: WorkerCheckout;
      try {
        checkout = await entry.built;
      } catch (err) {
        entry.holders--;
        throw err;
      }
      let released = false;
      return {
        checkout,
        gitTemplate() {
          // Beside the views (not a commit id, so never taken for one), gone with their folder.
          template ??= emptyGitFolder(git, path.join(root, ".dwm-git-template")).catch((err) => {
            template = null;
            throw err;
          });
          return template;
        },
        release() {
          if (released) return;
          released = true;
          entry.holders--;
          drop(base, entry);
        },
      };
    },
    close() {
      closed = true;
      for (const [b, e] of entries) {
        e.retired = true;
        drop(b, e);
      }
      if (entries.size === 0) fs.rmSync(root, { recursive: true, force: true });
    },
    bases() {
      return [...entries.keys()].filter((b) => fs.existsSync(path.join(root, b)));
    },
  };
}
