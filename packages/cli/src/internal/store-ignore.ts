import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "@dwm/core";

/**
 * Make a run store ignore itself in git: `<dir>/.gitignore` holding `*` (ignoring the
 * .gitignore too), so `.dwm/` never shows as untracked. An existing file is left as it is.
 * Returns the file written, relative to `root`, or null.
 */
export function ensureStoreIgnored(root: string, dirRel: string): string | null {
  const dir = path.posix.normalize(dirRel.split(path.sep).join("/"));
  // A store at the root (or outside it) must not make git ignore the repository itself.
  if (dir === "." || dir === "" || dir.startsWith("../") || dir === "..") return null;
  const rel = path.posix.join(dir, ".gitignore");
  const file = path.join(root, rel);
  if (fs.existsSync(file)) return null;
  writeFileAtomic(file, "*\n");
  return rel;
}

/** The folder that holds a store: `.dwm` for the default `.dwm/runs`, else the store itself. */
export function ignoredDirOf(store: string | undefined): string {
  return store === undefined ? ".dwm" : store;
}
