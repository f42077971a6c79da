import type { Attempt } from "@dwm/schemas";
import type { EvidenceReader } from "../evidence.js";
import { Judge, type Judgement } from "../judgement.js";

/** The validation and verification commands DWM ran itself after the work was committed: each must pass. */
export function checkRecordedChecks(attempt: Attempt, ev: EvidenceReader): Judgement {
  const j = new Judge();
  for (const c of attempt.checks) {
    j.falsifiers++;
    const id = `${c.kind}:${c.id}`;
    if (c.passed) {
      j.check(id, c.kind, "pass", `${c.command} exited ${c.exit_code}`);
      continue;
    }
    const how = c.timed_out ? "timed out" : c.signal ? `was killed by ${c.signal}` : `exited ${c.exit_code}`;
    j.check(id, c.kind, "fail", `${c.command} ${how}`);
    j.find(
      c.kind === "validation" ? "REVIEW_VALIDATION_FAILED" : "REVIEW_VERIFICATION_FAILED",
      `${c.kind} of ${c.source}: \`${c.command}\` ${how}`,
      "repair",
      [ev.tailEvidence(c.stdout), ev.tailEvidence(c.stderr)],
    );
  }
  return j.done({});
}
