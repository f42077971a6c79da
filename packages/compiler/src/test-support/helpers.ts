// Helpers for this package's tests (not exported from the index).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { referencePlansDir } from "@dwm/test-utils";

export const FIXTURES_DIR = fileURLToPath(new URL("../../../../fixtures/compiler", import.meta.url));

/** A fixture plan (fixtures/compiler/plans/<name>.workflow.plan.json), parsed fresh each call. */
export function fixturePlan(name: string): Record<string, unknown> & {
  phases: Record<string, unknown>[];
  [k: string]: unknown;
} {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, "plans", `${name}.workflow.plan.json`), "utf8"));
}

/** Every file under `dir` (relative POSIX path → bytes), sorted; symlinks are listed as `-> target`. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(path.join(dir, r))}`;
      else if (st.isDirectory()) walk(r);
      else out[r] = fs.readFileSync(path.join(dir, r), "utf8");
    }
  };
  walk("");
  return out;
}

/**
 * Reference plans that activate ([] when the user left them out with DWM_TEST_SKIP, or they are
 * missing: callers skip on `leftOut("reference-plans")` and fail on `requirePart`).
 */
export function activatedReferencePlans(): [string, unknown][] {
  const dir = referencePlansDir();
  if (dir === null) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".workflow.plan.json"))
    .sort()
    .map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))] as [string, unknown])
    .filter(([, p]) => (p as { activation?: { decision?: string } }).activation?.decision === "activate");
}
