import fs from "node:fs";
import { digest, resolveInside, writeArtifact } from "@dwm/core";
import { attemptFiles } from "@dwm/executor";
import {
  DEFAULT_INFRA_RETRY_POLICY,
  type IngestNext,
  ingestReview,
  registerHandoffs,
  reviewPath,
} from "@dwm/ingester";
import { reviewAttempt } from "@dwm/reviewer";
import type { Attempt, Packet, PacketState } from "@dwm/schemas";
import type { AttemptQueue, AttemptSettlement } from "../queue.js";
import type { RunContext } from "./context.js";
import { type ReviewerEvidence, reviewerOf, reviewerPort } from "./reviewer-worker.js";
import { attemptDir, attemptRel, totalTokens, usdOf } from "./store.js";

/** What a settled attempt becomes in the journal. */
export type SettlementPlan =
  /** A result the journal no longer waits for (late or duplicate): recorded once, never twice. */
  | { kind: "ignore"; note: string }
  /** Not judged: packet.abandoned, and the packet runs again; `failure` also stops the run as failed. */
  | { kind: "abandon"; reason: string; failure: string | null }
  /** attempt.recorded, then review and ingest. */
  | { kind: "record"; attempt: Attempt };

/**
 * Decide what a settlement becomes: only the attempt the journal has in flight for its packet
 * is recorded; a lost worker or an interrupted runner abandons it (infrastructure, never a
 * verdict); an attempt that could not run at all abandons it and stops the run as failed.
 */
export function planSettlement(
  s: AttemptSettlement,
  packet: PacketState | undefined,
  interrupted: boolean,
): SettlementPlan {
  const id = s.request.packet.packet_id;
  const n = s.request.attempt;
  if (packet?.state !== "dispatched" || packet.attempts !== n) {
    const now = packet ? `${packet.state}, attempt ${packet.attempts}` : "unknown packet";
    return { kind: "ignore", note: `ignored a late or duplicate result of ${id} attempt ${n} (${now})` };
  }
  if (s.status === "lost") {
    return { kind: "abandon", reason: `infrastructure: the worker was lost: ${s.reason}`, failure: null };
  }
  if (s.status === "error") {
    return {
      kind: "abandon",
      reason: `the attempt could not run: ${s.error.code}: ${s.error.message}`,
      failure: `${id} attempt ${n}: ${s.error.code}: ${s.error.message}`,
    };
  }
  if (interrupted)
    return { kind: "abandon", reason: "the runner was interrupted while it ran", failure: null };
  return { kind: "record", attempt: s.attempt };
}

/** What an ingested review means for the loop: a retry time to wait for, or a reason to stop as failed. */
export function afterIngest(
  packetId: string,
  next: IngestNext,
): { notBefore: string | null; failure: string | null } {
  return {
    notBefore: next.kind === "infra-retry" ? next.not_before : null,
    failure: next.kind === "infra-stop" ? `${packetId}: ${next.reason}` : null,
  };
}

/**
 * The recorder: the one place an attempt is settled. A settlement becomes attempt.recorded,
 * the review (reviewAttempt, written under reviews/), and what ingestReview makes of it
 * (completion, handoffs, a repair, a gate, an infrastructure retry) — or packet.abandoned.
 */
export class Recorder {
  constructor(private readonly ctx: RunContext) {}

  /** Record one settlement the queue handed over, then let the queue forget the job. */
  async settle(s: AttemptSettlement, queue: AttemptQueue): Promise<void> {
    const { log, stop, budget } = this.ctx;
    const id = s.request.packet.packet_id;
    const n = s.request.attempt;
    const plan = planSettlement(s, log.state.packets[id], stop.aborted);
    if (plan.kind === "ignore") log.note(plan.note);
    else if (plan.kind === "abandon") {
      this.abandon(id, n, plan.reason);
      if (plan.failure !== null) stop.fail(plan.failure);
    } else {
      const tokens = totalTokens(plan.attempt);
      budget.spend(tokens, usdOf(this.ctx.setup.options.costOf, plan.attempt));
      log.activity.tokens += tokens;
      log.append([
        {
          type: "attempt.recorded",
          data: {
            packet_id: id,
            attempt: n,
            outcome: plan.attempt.outcome,
            attempt_digest: digest(plan.attempt),
            files: attemptFiles(plan.attempt, attemptRel(id, n)),
            // Journaled so status and verify can say the run's assurance without reading every attempt.
            ...(plan.attempt.sandbox === undefined ? {} : { sandbox: plan.attempt.sandbox }),
          },
        },
      ]);
      await this.reviewAndIngest(id, plan.attempt);
    }
    queue.ack?.(s.job_id);
  }

  /** packet.abandoned, and the attempt's folder goes: no event names its files. */
  abandon(id: string, n: number, reason: string): void {
    // The folder goes first: a runner killed in between leaves the packet dispatched (abandoned
    // again on resume), never an abandoned attempt whose unjournaled folder stays behind.
    fs.rmSync(attemptDir(this.ctx.setup.dir, id, n), { recursive: true, force: true });
    this.ctx.log.append([{ type: "packet.abandoned", data: { packet_id: id, attempt: n, reason } }]);
  }

  /** Review a recorded attempt, write the review, and journal what ingestReview makes of it. */
  async reviewAndIngest(id: string, attempt: Attempt): Promise<void> {
    const { setup, log, budget, stop } = this.ctx;
    const { dir, ports, options } = setup;
    const packet = setup.fan.packet(id) as Packet;
    const n = attempt.attempt;
    // The refuting reviewer, when the plan or the bindings name one; it runs only after the checks pass.
    const choice = reviewerOf(packet, options.bindings);
    const evidence: ReviewerEvidence = { files: [] };
    const review = await reviewAttempt(packet, attempt, {
      attemptDir: attemptDir(dir, id, n),
      clock: ports.clock,
      unverifiable: options.unverifiable,
      controlFiles: options.controlFiles,
      runReviewerWorker: choice ? reviewerPort(this.ctx, packet, attempt, choice, evidence) : undefined,
    });
    writeArtifact(resolveInside(dir, reviewPath(id, n), "review"), "review", review);
    const r = ingestReview(log.state, review, {
      packet,
      run: log.journal.run,
      now: ports.clock.now(),
      infraPolicy: options.infraPolicy ?? DEFAULT_INFRA_RETRY_POLICY,
      retryAfterMs: attempt.retry_after_ms,
      evidenceFiles: evidence.files,
    });
    registerHandoffs(dir, r.copies);
    log.append(r.events);
    const next = afterIngest(id, r.next);
    budget.holdUntil(id, next.notBefore);
    if (next.failure !== null) stop.fail(next.failure);
  }
}
