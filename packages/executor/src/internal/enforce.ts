import type { AttemptFinding, ChangedFile } from "@dwm/schemas";
import type { Job } from "./jobs.js";
import { ownershipRule } from "./ownership.js";

/**
 * Enforcement: read-only workers change nothing but the declared outputs; writers stay within
 * their ownership. A writer whose ownership names no paths is not restricted (a note says so).
 */
export function enforcePermissions(
  jobs: readonly Job[],
  changed: readonly ChangedFile[],
  declared: ReadonlySet<string>,
): { findings: AttemptFinding[]; notes: string[] } {
  const findings: AttemptFinding[] = [];
  const notes: string[] = [];
  for (const job of jobs) {
    if (job.permissions === null) continue;
    const mine = changed
      .filter((c) => c.workers.includes(job.workerId) && !declared.has(c.path))
      .map((c) => c.path);
    if (!job.permissions.write) {
      if (mine.length > 0) {
        findings.push({
          code: "read-only-violation",
          message: `read-only worker ${job.workerId} changed ${mine.length} file(s)`,
          worker_id: job.workerId,
          paths: mine,
        });
      }
      continue;
    }
    const rule = ownershipRule(job.ownership);
    if (rule.globs.length === 0) {
      notes.push(
        `worker ${job.workerId} may write and its ownership names no paths (${rule.prose.map((p) => JSON.stringify(p)).join(", ") || "none"}): its changes are not restricted`,
      );
      continue;
    }
    const outside = mine.filter((p) => !rule.allows(p));
    if (outside.length > 0) {
      findings.push({
        code: "ownership-violation",
        message: `worker ${job.workerId} changed ${outside.length} file(s) outside its ownership (${rule.globs.join(", ")})`,
        worker_id: job.workerId,
        paths: outside,
      });
    }
  }
  return { findings, notes };
}
