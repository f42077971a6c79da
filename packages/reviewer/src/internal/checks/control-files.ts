import path from "node:path";
import type { Attempt } from "@dwm/schemas";
import { Judge, type Judgement, lineExcerpt } from "../judgement.js";

/**
 * DWM's control files in a repository: the keys it trusts, what a policy approves without asking,
 * which command each worker binding runs. DWM reads them from the repository root, the plan's
 * folder or the working folder, so they count at any depth.
 */
export const CONTROL_FILE_NAMES: readonly string[] = [
  "dwm.operators.json",
  "dwm.policy.json",
  "dwm.workers.json",
];

/** The plan file name `dwm init` and the examples use: a plan under it counts as a control file at any depth. */
export const CONVENTIONAL_PLAN_FILE = "workflow.plan.json";

/**
 * Is `rel` (a repository path) one of DWM's control files: a file named as one at any depth,
 * anything in a `.dwm` folder (run stores), a plan file of the conventional name, or one of
 * `extra` (the plan file the run was compiled from).
 */
export function isControlFile(rel: string, extra: readonly string[] = []): boolean {
  const p = path.posix.normalize(rel.replace(/^\.\//, ""));
  const base = path.posix.basename(p);
  if (CONTROL_FILE_NAMES.includes(base) || base === CONVENTIONAL_PLAN_FILE) return true;
  if (p.split("/").includes(".dwm")) return true;
  return extra.some((e) => path.posix.normalize(e.replace(/^\.\//, "")) === p);
}

/**
 * A worker that changes DWM's control files changes who is trusted, what is approved without a
 * human and what runs next, once its work lands. No ownership covers that and no repair fixes
 * it: a human decides (needs-human opens a run-time gate, which no policy can approve).
 */
export function checkControlFiles(attempt: Attempt, extra: readonly string[] = []): Judgement {
  const j = new Judge();
  const changed = attempt.changed_files.filter((f) => isControlFile(f.path, extra));
  if (changed.length === 0) return j.done({});
  const list = changed.map((f) => `${f.path} (${f.status})`);
  j.check(
    "permissions:control-files",
    "permissions",
    "fail",
    `${changed.length} DWM control file(s) changed`,
  );
  j.find(
    "REVIEW_CONTROL_FILE_CHANGED",
    `the attempt changed DWM's own control files: ${list.join(", ")}`,
    "human",
    [{ path: null, digest: null, excerpt: lineExcerpt(list) }],
  );
  return j.done({});
}
