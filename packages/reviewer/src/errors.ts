import { defineErrors, EXIT } from "@dwm/core";

/** Errors of @dwm/reviewer. A failed review of the work is a verdict (data), never one of these. */
export const reviewerErrors = defineErrors({
  ERR_REVIEW_ATTEMPT_MISMATCH: {
    title: "The attempt is not an attempt of this packet (other packet id or packet digest).",
    hint: "Review each attempt against the packet it was dispatched with; a recompiled packet needs a new attempt.",
    exitCode: EXIT.integrity,
  },
  ERR_REVIEW_ATTEMPT_INVALID: {
    title: "The attempt or packet does not match its schema.",
    hint: "Pass attempt.json and the packet as the executor and compiler wrote them; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_REVIEW_EVIDENCE_MISSING: {
    title: "An evidence file the attempt names is missing or is not listed in attempt.json.",
    hint: "The attempt directory was changed after the attempt was recorded; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_REVIEW_EVIDENCE_DIGEST: {
    title: "An evidence file does not match the digest attempt.json records for it.",
    hint: "The evidence was changed after the attempt was recorded; run `dwm verify` and re-run the packet.",
    exitCode: EXIT.integrity,
  },
});
