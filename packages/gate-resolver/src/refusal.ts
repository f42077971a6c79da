import type { EventDraft } from "@dwm/runtime";

/**
 * Refusals that may pass: the gate is not open yet (a human gate: refused for good once it
 * opens), or a packet it completes or sends back is being attempted right now. Every other
 * refusal is final: the approval can never count, so the runner journals it as refused.
 */
const TRANSIENT = new Set(["ERR_GATE_NOT_OPEN", "ERR_GATE_PACKET_IN_FLIGHT", "ERR_GATE_REVIEW_REQUIRED"]);

/**
 * Gate states in which ERR_GATE_NOT_OPEN is for good: a rejected gate is asked again with the
 * reworked packets' new digest (an approval written before never matches it, and was not shown
 * that work), a superseded one never again. Left pending, such an approval would wait for ever.
 */
const NEVER_OPEN_FOR_IT = new Set(["rejected", "superseded"]);

/**
 * Whether an approval refused with `code` can never count (journal it as approval.refused);
 * `details` is the refusal's (ERR_GATE_NOT_OPEN names the gate's state in `gate_state`).
 */
export function isFinalRefusal(code: string, details?: Readonly<Record<string, unknown>>): boolean {
  if (code === "ERR_GATE_NOT_OPEN") return NEVER_OPEN_FOR_IT.has(String(details?.gate_state));
  return !TRANSIENT.has(code);
}

/** The approval.refused event of an approval file: which file, as it was, and why. */
export function refusalDraft(
  file: { path: string; digest: string; gateId: string },
  problem: { code: string; message: string; keyId: string | null },
): EventDraft {
  return {
    type: "approval.refused",
    data: {
      path: file.path,
      gate_id: file.gateId,
      code: problem.code,
      reason: problem.message,
      key_id: problem.keyId,
      files: [{ path: file.path, digest: file.digest }],
    },
  };
}
