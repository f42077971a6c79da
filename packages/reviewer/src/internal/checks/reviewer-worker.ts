import { isDwmError } from "@dwm/core";
import type { Review } from "@dwm/schemas";
import type { ReviewFindingCode } from "../../findings.js";
import { type Effect, Judge, type Judgement } from "../judgement.js";

/** What the optional reviewer worker answers. */
export interface ReviewerWorkerResult {
  verdict: "approved" | "changes-requested" | "needs-human";
  /** Its transcript, relative to the run directory (the caller stores it), or null. */
  transcript: string | null;
  /** Its reasons in a few lines. */
  summary?: string | null;
  /** Which worker it was (the plan's worker, or the bindings' reviewer). */
  worker_id?: string;
  /** Its own attempt record, relative to the run directory (the caller ran and stored it). */
  attempt?: string | null;
}

/**
 * A port: run a reviewer worker (any worker binding) on a prompt that asks it to
 * refute the result. The caller wires it to the executor; the reviewer never runs one itself.
 */
export type RunReviewerWorker = (prompt: string) => Promise<ReviewerWorkerResult>;

type WorkerRecord = NonNullable<Review["reviewer_worker"]>;

/** What each answer of the reviewer worker means for the review. */
const ANSWERS: Readonly<
  Record<
    ReviewerWorkerResult["verdict"],
    { passed: boolean; detail: string; code?: ReviewFindingCode; effect?: Effect }
  >
> = {
  approved: { passed: true, detail: "the reviewer worker could not refute the result" },
  "changes-requested": {
    passed: false,
    detail: "the reviewer worker refuted the result",
    code: "REVIEW_WORKER_REFUTED",
    effect: "repair",
  },
  "needs-human": {
    passed: false,
    detail: "the reviewer worker asks for a human",
    code: "REVIEW_WORKER_NEEDS_HUMAN",
    effect: "human",
  },
};

/**
 * The optional reviewer worker, asked to refute a result the deterministic checks passed. Its
 * verdict is evidence like any other; a worker that fails or answers nonsense leaves it to a human.
 */
export async function askReviewerWorker(
  run: RunReviewerWorker,
  prompt: string,
): Promise<Judgement & { worker: WorkerRecord }> {
  const j = new Judge();
  j.falsifiers++;
  try {
    const r = await run(prompt);
    if (!Object.hasOwn(ANSWERS, r.verdict))
      throw new TypeError(`unknown verdict ${JSON.stringify(r.verdict)}`);
    const answer = ANSWERS[r.verdict];
    j.check("reviewer-worker", "reviewer-worker", answer.passed ? "pass" : "fail", answer.detail);
    if (answer.code !== undefined && answer.effect !== undefined) {
      j.find(answer.code, `${answer.detail}${r.summary ? `: ${r.summary}` : ""}`, answer.effect, [
        { path: null, digest: null, excerpt: r.summary ?? null },
      ]);
    }
    const worker: WorkerRecord = { verdict: r.verdict, transcript: r.transcript, summary: r.summary ?? null };
    if (r.worker_id !== undefined) worker.worker_id = r.worker_id;
    if (r.attempt !== undefined) worker.attempt = r.attempt;
    return j.done({ worker });
  } catch (e) {
    const msg = isDwmError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    j.check("reviewer-worker", "reviewer-worker", "fail", `unavailable: ${msg}`);
    j.find("REVIEW_WORKER_UNAVAILABLE", `the reviewer worker could not give a verdict: ${msg}`, "human");
    return j.done({ worker: { verdict: "unavailable", transcript: null, summary: msg } });
  }
}
