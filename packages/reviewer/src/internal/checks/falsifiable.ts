import { Judge, type Judgement, verdictOf } from "../judgement.js";

/**
 * Never approve on the worker's word alone: when nothing in the evidence could have failed the
 * result and the review would approve, a human must look, unless `unverifiable` is "approve".
 */
export function checkFalsifiable(
  judged: readonly Judgement[],
  unverifiable: "needs-human" | "approve" | undefined,
): Judgement {
  const j = new Judge();
  const falsifiers = judged.reduce((n, x) => n + x.falsifiers, 0);
  if (falsifiers > 0)
    return j.check("falsifiable", "falsifiable", "pass", `${falsifiers} falsifying check(s)`).done({});
  // Something already failed the result: there is nothing to add.
  if (verdictOf(judged) !== "approved") return j.done({});
  if (unverifiable === "approve") {
    return j
      .check("falsifiable", "falsifiable", "skipped", "nothing could falsify the result; approved by option")
      .done({});
  }
  return j
    .check("falsifiable", "falsifiable", "fail", "no checkable output, check, command or reviewer worker")
    .find(
      "REVIEW_UNVERIFIABLE",
      "nothing in the evidence can falsify the result (no checkable output, no validation or verification result, no reviewer worker); a human must look",
      "human",
    )
    .done({});
}
