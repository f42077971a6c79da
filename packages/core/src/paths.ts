import fs from "node:fs";
import path from "node:path";
import { coreErrors } from "./errors.js";

/**
 * Check a plan-controlled relative path without touching the file system:
 * POSIX separators, not absolute, no `..` or empty segments, no NUL or backslash.
 * Returns the normalised relative path.
 */
export function checkRelativePath(rel: string, what = "path"): string {
  const bad = (why: string) =>
    coreErrors.create("ERR_OUT_PATH_UNSAFE", `${what} ${JSON.stringify(rel)} is unsafe: ${why}`, {
      details: { path: rel, reason: why },
    });
  if (typeof rel !== "string" || rel.length === 0) throw bad("empty");
  if (rel.includes("\0")) throw bad("contains NUL");
  if (rel.includes("\\")) throw bad("contains a backslash");
  if (path.posix.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) throw bad("absolute");
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw bad("names the root itself");
  if (parts.includes("..")) throw bad("contains ..");
  return parts.join("/");
}

/**
 * Resolve `rel` inside `root`, refusing `..`, absolute paths, and any existing
 * component (the root's own parents excepted) that is a symbolic link.
 * The target itself need not exist.
 */
export function resolveInside(root: string, rel: string, what = "path"): string {
  const clean = checkRelativePath(rel, what);
  const base = path.resolve(root);
  let current = base;
  for (const part of clean.split("/")) {
    current = path.join(current, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(current);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
      throw e;
    }
    if (st.isSymbolicLink()) {
      throw coreErrors.create(
        "ERR_OUT_PATH_SYMLINK",
        `${what} ${JSON.stringify(rel)} goes through a symbolic link at ${path.relative(base, current)}`,
        { details: { path: rel, symlink: path.relative(base, current) } },
      );
    }
  }
  const full = path.join(base, clean);
  // Belt and braces: the joined path must still be below the root.
  if (full !== base && !full.startsWith(base + path.sep)) {
    throw coreErrors.create("ERR_OUT_PATH_UNSAFE", `${what} ${JSON.stringify(rel)} escapes ${base}`, {
      details: { path: rel },
    });
  }
  return full;
}

/** True when `child` is `parent` or lies below it (lexically, after resolving). */
export function isInside(parent: string, child: string): boolean {
  const p = path.resolve(parent);
  const c = path.resolve(child);
  return c === p || c.startsWith(p + path.sep);
}
