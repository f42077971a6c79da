import picomatch from "picomatch";

/**
 * 0.5 plans write ownership and outputs as prose ("surface discovery") as often as
 * paths. An entry counts as a path (or glob) only when it has no whitespace and
 * contains `/` or `*`, or ends in a file extension (`.md`, `.json`, ...).
 */
export function looksLikePath(entry: string): boolean {
  if (entry.length === 0 || /\s/.test(entry)) return false;
  return entry.includes("/") || entry.includes("*") || /\.[A-Za-z0-9]{1,10}$/.test(entry);
}

export interface OwnershipRule {
  /** The path-like entries, as globs. */
  globs: string[];
  /** Entries that are prose (named areas): not enforceable. */
  prose: string[];
  /** True when the worker may change `file` (repository-relative, POSIX). */
  allows(file: string): boolean;
}

/**
 * `src/` and `src` both own everything below src; `*.md` and `docs/**` are picomatch globs
 * (dotfiles included); a plain path owns that file.
 */
export function ownershipRule(entries: readonly string[]): OwnershipRule {
  const globs: string[] = [];
  const prose: string[] = [];
  for (const e of entries) (looksLikePath(e) ? globs : prose).push(e);
  const patterns = globs.flatMap((g) => {
    const clean = g.replace(/^\.\//, "");
    if (clean.endsWith("/")) return [`${clean}**`];
    return clean.includes("*") ? [clean] : [clean, `${clean}/**`];
  });
  const match = patterns.length > 0 ? picomatch(patterns, { dot: true }) : () => false;
  return { globs, prose, allows: (file) => match(file) };
}
