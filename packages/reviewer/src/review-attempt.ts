import { type Clock, digest } from "@dwm/core";
import { type Attempt, type Packet, type Review, validateSchema } from "@dwm/schemas";
import { reviewerErrors } from "./errors.js";
import { checkControlFiles } from "./internal/checks/control-files.js";
import { checkFalsifiable } from "./internal/checks/falsifiable.js";
import { checkOutcome } from "./internal/checks/outcome.js";
import { checkOutputs } from "./internal/checks/outputs.js";
import { checkPermissions } from "./internal/checks/permissions.js";
import { checkRecordedChecks } from "./internal/checks/recorded.js";
import { askReviewerWorker, type RunReviewerWorker } from "./internal/checks/reviewer-worker.js";
import { checkTestWeakening } from "./internal/checks/test-weakening.js";
import { EvidenceReader } from "./internal/evidence.js";
import { type Judgement, verdictOf } from "./internal/judgement.js";
import { renderReviewerPrompt } from "./reviewer-prompt.js";
import { REVIEWER_VERSION } from "./version.js";

export type { InfraOutcome } from "@dwm/core";
export { INFRA_OUTCOMES, isInfraOutcome } from "@dwm/core";
export type { ReviewerWorkerResult, RunReviewerWorker } from "./internal/checks/reviewer-worker.js";

export interface ReviewOptions {
  /** The attempt directory (attempts/<packet_id>/<n>/); evidence paths are relative to it. */
  attemptDir: string;
  clock: Clock;
  /** Optional reviewer worker asked to refute a result the deterministic checks passed. */
  runReviewerWorker?: RunReviewerWorker | undefined;
  /**
   * When nothing could falsify the result (no checkable output, no check, no command
   * phase, no reviewer worker): `needs-human` (default) or `approve`.
   */
  unverifiable?: "needs-human" | "approve" | undefined;
  /**
   * Repository paths of control files beyond the built-in ones (the plan file the run was
   * compiled from): a change to any of them needs a human (REVIEW_CONTROL_FILE_CHANGED).
   */
  controlFiles?: readonly string[] | undefined;
}

function assertInput(packet: Packet, attempt: Attempt): void {
  for (const [name, value] of [
    ["packet", packet],
    ["attempt", attempt],
  ] as const) {
    const r = validateSchema(name, value);
    if (!r.ok) {
      throw reviewerErrors.create(
        "ERR_REVIEW_ATTEMPT_INVALID",
        `the ${name} does not match the ${name} schema`,
        {
          details: { problems: r.problems.slice(0, 10) },
        },
      );
    }
  }
  const packetDigest = digest(packet);
  if (attempt.packet_id !== packet.packet_id || attempt.packet_digest !== packetDigest) {
    throw reviewerErrors.create(
      "ERR_REVIEW_ATTEMPT_MISMATCH",
      `attempt ${attempt.attempt} of ${attempt.packet_id} (packet ${attempt.packet_digest}) is not an attempt of ${packet.packet_id} (packet ${packetDigest})`,
      {
        details: {
          attempt_packet: attempt.packet_id,
          attempt_packet_digest: attempt.packet_digest,
          packet: packet.packet_id,
          packet_digest: packetDigest,
        },
      },
    );
  }
}

/** The review artifact: every check and finding in the order the checks ran, the verdict their fold. */
function reviewOf(
  packet: Packet,
  attempt: Attempt,
  judged: readonly Judgement[],
  found: Pick<Review, "handoffs" | "diff" | "reviewer_worker">,
  clock: Clock,
): Review {
  return {
    kind: "review",
    schema_version: "1",
    reviewer_version: REVIEWER_VERSION,
    run_id: attempt.run_id,
    packet_id: packet.packet_id,
    packet_digest: attempt.packet_digest,
    attempt: attempt.attempt,
    attempt_digest: digest(attempt),
    outcome: attempt.outcome,
    verdict: verdictOf(judged),
    findings: judged.flatMap((j) => j.findings),
    checks: judged.flatMap((j) => j.checks),
    handoffs: found.handoffs,
    diff: found.diff,
    branch: attempt.branch,
    head_commit: attempt.head_commit,
    reviewer_worker: found.reviewer_worker,
    reviewed_at: clock.now(),
  };
}

/**
 * Review one attempt of one packet from its recorded evidence: deterministic checks
 * first (outcome, declared outputs, handoff formats and required fields, validation
 * and verification results DWM recorded, permissions, test-weakening in the diff),
 * then, only when they all pass, the optional reviewer worker. A change to DWM's control files
 * (checkControlFiles) always needs a human, whatever the packet's ownership. Reads the attempt
 * directory (every file digest-checked against attempt.json); writes nothing.
 */
export async function reviewAttempt(
  packet: Packet,
  attempt: Attempt,
  options: ReviewOptions,
): Promise<Review> {
  assertInput(packet, attempt);
  const ev = new EvidenceReader(options.attemptDir, attempt);
  const outcome = checkOutcome(packet, attempt, ev);
  if (outcome.ends)
    return reviewOf(
      packet,
      attempt,
      [outcome],
      { handoffs: [], diff: null, reviewer_worker: null },
      options.clock,
    );
  const outputs = checkOutputs(packet, attempt, ev);
  const recorded = checkRecordedChecks(attempt, ev);
  const earlier = [outcome, outputs, recorded].flatMap((j) => j.findings);
  const permissions = checkPermissions(packet, attempt, earlier);
  const control = checkControlFiles(attempt, options.controlFiles);
  const tests = checkTestWeakening(packet, attempt, ev);
  const judged: Judgement[] = [outcome, outputs, recorded, permissions, control, tests];
  let worker: Review["reviewer_worker"] = null;
  if (options.runReviewerWorker && verdictOf(judged) === "approved") {
    const checks = judged.flatMap((j) => j.checks);
    const patch = attempt.diff === null ? null : ev.read(attempt.diff).bytes.toString("utf8");
    const asked = await askReviewerWorker(
      options.runReviewerWorker,
      renderReviewerPrompt(packet, attempt, { checks, diff: tests.diff, patch }),
    );
    judged.push(asked);
    worker = asked.worker;
  }
  judged.push(checkFalsifiable(judged, options.unverifiable));
  return reviewOf(
    packet,
    attempt,
    judged,
    { handoffs: outputs.handoffs, diff: tests.diff, reviewer_worker: worker },
    options.clock,
  );
}
