import path from "node:path";
import type { Attempt, Packet, ReviewFinding } from "@dwm/schemas";
import { type Effect, Judge, type Judgement, lineExcerpt } from "../judgement.js";

/** The executor's enforcement findings as review findings; any other is for a human. */
const EXECUTOR_FINDINGS: Readonly<Record<string, [string, Effect]>> = {
  "read-only-violation": ["REVIEW_READ_ONLY_VIOLATION", "repair"],
  "ownership-violation": ["REVIEW_OWNERSHIP_VIOLATION", "repair"],
  "output-missing": ["REVIEW_MISSING_OUTPUT", "repair"],
  "secret-in-work": ["REVIEW_SECRET_IN_WORK", "human"],
  // The sandbox should have made it impossible: the work cannot be trusted, and a repair would
  // hand the same worker the same chance. Never approved; a human looks.
  "repository-changed": ["REVIEW_REPOSITORY_CHANGED", "human"],
  // The evidence is incomplete; the worker can be asked to say less.
  "output-truncated": ["REVIEW_OUTPUT_TRUNCATED", "repair"],
};

/**
 * Permissions: what the executor enforced (a missing output the outputs check already reported
 * is not reported twice, hence `earlier`), and a read-only packet that changed files other than its
 * declared outputs (as the executor enforces it: a read-only packet may still produce those).
 */
export function checkPermissions(
  packet: Packet,
  attempt: Attempt,
  earlier: readonly ReviewFinding[],
): Judgement {
  const j = new Judge();
  const found = new Set(earlier.map((f) => f.code));
  for (const f of attempt.findings) {
    const [code, effect] = EXECUTOR_FINDINGS[f.code] ?? ["REVIEW_EXECUTOR_FINDING", "human"];
    if (code === "REVIEW_MISSING_OUTPUT" && found.has(code)) continue;
    found.add(code);
    j.check(`executor:${f.code}`, "permissions", "fail", f.message);
    j.find(code, `${f.message}${f.paths.length ? ` (${f.paths.join(", ")})` : ""}`, effect, [
      { path: null, digest: null, excerpt: lineExcerpt(f.paths) },
    ]);
  }
  const writers = packet.workers.filter((w) => w.tool_permissions.write);
  const declared = new Set(packet.outputs.map((o) => path.posix.normalize(o.artifact)));
  const changed = attempt.changed_files.map((f) => f.path).filter((p) => !declared.has(p));
  if (writers.length === 0 && changed.length > 0 && !found.has("REVIEW_READ_ONLY_VIOLATION")) {
    j.check("permissions:read-only", "permissions", "fail", `${changed.length} file(s) changed`);
    j.find(
      "REVIEW_READ_ONLY_VIOLATION",
      `no worker of this packet may write, yet ${changed.length} file(s) changed`,
      "repair",
      [{ path: null, digest: null, excerpt: lineExcerpt(changed.slice(0, 20)) }],
    );
  } else if (!found.has("REVIEW_READ_ONLY_VIOLATION") && !found.has("REVIEW_OWNERSHIP_VIOLATION")) {
    j.check(
      "permissions",
      "permissions",
      "pass",
      writers.length ? "changes within ownership" : "read-only, nothing changed",
    );
  }
  return j.done({});
}
