import { isInfraOutcome } from "@dwm/core";
import type { Attempt, Packet } from "@dwm/schemas";
import type { EvidenceReader } from "../evidence.js";
import { Judge, type Judgement } from "../judgement.js";

/** The invocation that decided the outcome: the last one that ran, else the last one. */
function decidingInvocation(attempt: Attempt) {
  const ran = attempt.invocations.filter((i) => i.outcome !== "not-run");
  return ran[ran.length - 1] ?? attempt.invocations[attempt.invocations.length - 1] ?? null;
}

/**
 * The attempt's outcome. An infrastructure failure or a dry run ends the review (`ends`): there is
 * no work to judge. A failed task asks for a repair, with the tail of the worker's output.
 */
export function checkOutcome(
  packet: Packet,
  attempt: Attempt,
  ev: EvidenceReader,
): Judgement & { ends: boolean } {
  const j = new Judge();
  const deciding = decidingInvocation(attempt);
  if (isInfraOutcome(attempt.outcome)) {
    const detail = deciding?.detail ?? null;
    j.check("outcome", "outcome", "fail", `infrastructure failure: ${attempt.outcome}`);
    j.find(
      "REVIEW_INFRA_FAILURE",
      `the attempt ended in an infrastructure failure (${attempt.outcome})${detail ? `: ${detail}` : ""}; this is not a verdict on the work`,
      "infra",
      [deciding ? ev.tailEvidence(deciding.stderr) : null],
    );
    return j.done({ ends: true });
  }
  if (attempt.dry_run) {
    j.check("outcome", "outcome", "fail", "dry run: no worker ran");
    j.find("REVIEW_DRY_RUN", "no worker ran (dry run): there is no work to approve", "human");
    return j.done({ ends: true });
  }
  if (attempt.outcome === "task-failed") {
    j.check("outcome", "outcome", "fail", `task failed with exit code ${attempt.exit_code ?? "none"}`);
    j.find(
      "REVIEW_TASK_FAILED",
      `the worker${deciding ? ` ${deciding.worker_id}` : ""} failed (exit code ${attempt.exit_code ?? "none"}${attempt.signal ? `, signal ${attempt.signal}` : ""})`,
      "repair",
      deciding ? [ev.tailEvidence(deciding.stderr), ev.tailEvidence(deciding.stdout)] : [],
    );
  } else {
    j.check("outcome", "outcome", "pass", `exit code ${attempt.exit_code ?? "none"}`);
  }
  // A command phase's own exit status judges the work.
  if (packet.command !== undefined) j.falsifiers++;
  return j.done({ ends: false });
}
