import fs from "node:fs";
import path from "node:path";
import type { ChangedFile } from "@dwm/schemas";
import { type GitPort, gitOk } from "./git.js";
import { EXCLUDE_INPUTS } from "./inputs.js";

/** Which workers changed each path: filled in as each invocation's changes are staged. */
export type Attribution = Map<string, Set<string>>;

/** Record that `workerId` changed `paths`. */
export function attribute(touchedBy: Attribution, workerId: string, paths: readonly string[]): void {
  for (const p of paths) {
    const set = touchedBy.get(p) ?? new Set<string>();
    set.add(workerId);
    touchedBy.set(p, set);
  }
}

const STATUS: Readonly<Record<string, ChangedFile["status"]>> = {
  A: "added",
  M: "modified",
  D: "deleted",
  T: "type-changed",
};

/** `git diff --name-status -z` output (split on NUL) as changed files with their workers, sorted by path. */
export function changedFiles(nameStatus: readonly string[], touchedBy: Attribution): ChangedFile[] {
  const changed: ChangedFile[] = [];
  for (let i = 0; i + 1 < nameStatus.length; i += 2) {
    const s = nameStatus[i] ?? "";
    const p = nameStatus[i + 1] ?? "";
    if (p === "") continue;
    changed.push({
      path: p,
      status: STATUS[s[0] ?? ""] ?? "modified",
      workers: [...(touchedBy.get(p) ?? [])].sort(),
    });
  }
  return changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * `diff.patch` (full binary patch base → head, inputs excluded) and the changed files. Nothing
 * committed on top of the base (a no-op or read-only attempt): an empty diff, and git is not asked.
 * `nameStatus`: the `--name-status -z` fields of base → head already known (DWM staged the head's
 * tree in one step from the base's: the same diff), so git is not asked for them again.
 */
export async function recordChanges(
  git: GitPort,
  wt: string,
  attemptDir: string,
  range: { base: string; head: string },
  touchedBy: Attribution,
  nameStatus: readonly string[] | null = null,
): Promise<{ diff: string; changed: ChangedFile[] }> {
  const diff = "diff.patch";
  if (range.head === range.base) {
    fs.writeFileSync(path.join(attemptDir, diff), "");
    return { diff, changed: [] };
  }
  const paths = ["--", ".", EXCLUDE_INPUTS];
  await gitOk(
    git,
    wt,
    [
      "diff",
      "--binary",
      "--no-color",
      "--no-ext-diff",
      "--no-renames",
      "--full-index",
      range.base,
      range.head,
      ...paths,
    ],
    { stdoutFile: path.join(attemptDir, diff) },
  );
  if (nameStatus !== null) return { diff, changed: changedFiles(nameStatus, touchedBy) };
  const ns = await gitOk(git, wt, [
    "diff",
    "--name-status",
    "-z",
    "--no-renames",
    range.base,
    range.head,
    ...paths,
  ]);
  return { diff, changed: changedFiles(ns.split("\0"), touchedBy) };
}
