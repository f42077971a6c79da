import { describe, expect, it } from "vitest";
import { reviewerErrors } from "../../errors.js";
import { askReviewerWorker, type ReviewerWorkerResult } from "./reviewer-worker.js";

const answer = (r: Partial<ReviewerWorkerResult> | unknown) => async () => r as ReviewerWorkerResult;

describe("askReviewerWorker", () => {
  it("hands the prompt over and records the worker's verdict; it counts as a falsifier", async () => {
    let seen = "";
    const j = await askReviewerWorker(async (p) => {
      seen = p;
      return { verdict: "approved", transcript: "reviews/t.jsonl" };
    }, "refute this");
    expect(seen).toBe("refute this");
    expect(j).toEqual({
      checks: [
        {
          id: "reviewer-worker",
          kind: "reviewer-worker",
          status: "pass",
          detail: "the reviewer worker could not refute the result",
        },
      ],
      findings: [],
      falsifiers: 1,
      worker: { verdict: "approved", transcript: "reviews/t.jsonl", summary: null },
    });
  });

  it("a refutation asks for a repair, a request for a human needs one; the summary is the evidence", async () => {
    const refuted = await askReviewerWorker(
      answer({ verdict: "changes-requested", transcript: null, summary: "off by one" }),
      "p",
    );
    expect(refuted.findings).toEqual([
      {
        code: "REVIEW_WORKER_REFUTED",
        message: "the reviewer worker refuted the result: off by one",
        effect: "repair",
        evidence: [{ path: null, digest: null, excerpt: "off by one" }],
      },
    ]);
    const human = await askReviewerWorker(answer({ verdict: "needs-human", transcript: null }), "p");
    expect(human.findings.map((f) => [f.code, f.effect, f.message])).toEqual([
      ["REVIEW_WORKER_NEEDS_HUMAN", "human", "the reviewer worker asks for a human"],
    ]);
    expect(human.checks[0]?.status).toBe("fail");
  });

  it("a worker that fails or answers nonsense is unavailable: a human decides", async () => {
    const nonsense = await askReviewerWorker(answer({ verdict: "maybe", transcript: "t" }), "p");
    expect(nonsense.worker).toEqual({
      verdict: "unavailable",
      transcript: null,
      summary: 'unknown verdict "maybe"',
    });
    expect(nonsense.findings.map((f) => [f.code, f.effect])).toEqual([
      ["REVIEW_WORKER_UNAVAILABLE", "human"],
    ]);
    const failed = await askReviewerWorker(async () => {
      throw reviewerErrors.create("ERR_REVIEW_EVIDENCE_MISSING", "gone");
    }, "p");
    expect(failed.worker.summary).toBe("ERR_REVIEW_EVIDENCE_MISSING: gone");
    expect((await askReviewerWorker(answer(undefined), "p")).worker.verdict).toBe("unavailable");
    expect(failed.falsifiers).toBe(1);
  });
});

describe("askReviewerWorker: which worker, and its attempt", () => {
  it("records the worker's id and its own attempt record when the port says them", async () => {
    const j = await askReviewerWorker(
      answer({
        verdict: "approved",
        transcript: "reviews/a/1.reviewer/workers/1-r/transcript.jsonl",
        worker_id: "r",
        attempt: "reviews/a/1.reviewer/attempt.json",
      }),
      "p",
    );
    expect(j.worker).toEqual({
      verdict: "approved",
      transcript: "reviews/a/1.reviewer/workers/1-r/transcript.jsonl",
      summary: null,
      worker_id: "r",
      attempt: "reviews/a/1.reviewer/attempt.json",
    });
  });
});
