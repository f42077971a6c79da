import { defineErrors, EXIT } from "@dwm/core";

/** Errors of @dwm/gate-resolver: approvals and rejections that are refused. */
export const gateResolverErrors = defineErrors({
  ERR_GATE_UNKNOWN: {
    title: "The run has no gate with that id.",
    hint: "Run `dwm gates <run>` to list the run's gates.",
  },
  ERR_GATE_FOREIGN_RUN: {
    title: "The approval names another run.",
    hint: "Approve the gate of the run it belongs to: `dwm approve <run> <gate>`.",
  },
  ERR_GATE_STALE_DIGEST: {
    title: "The approval is for another version of the gate (its gate digest differs from the current gate).",
    hint: "The gate changed since it was shown (a recompile or a new opening); look at it again with `dwm gates <run>` and decide anew.",
    exitCode: EXIT.integrity,
  },
  ERR_GATE_HEAD_MOVED: {
    title:
      "The approval was made at an integration head that is no longer current: something was committed to the integration branch after the decision.",
    hint: "Look at the integration branch as it is now (`dwm gates <run>`, git log) and decide again with `dwm approve` / `dwm reject`.",
    exitCode: EXIT.integrity,
  },
  ERR_GATE_POLICY_NOT_ALLOWED: {
    title:
      "A policy (`dwm run --approve`, dwm.policy.json) tried to decide a gate only a person may decide, or to reject one.",
    hint: "Policies approve risk gates only; decide human gates with `dwm approve` / `dwm reject`.",
    exitCode: EXIT.integrity,
  },
  ERR_GATE_NOT_OPEN: {
    title:
      "The gate is not waiting for a decision: a human gate not yet reached, or a rejected gate whose reworked packets have not completed again.",
    hint: "Human-gate phases and needs-human gates are decided once open; run the workflow on (`dwm run`) until it stops at the gate.",
  },
  ERR_GATE_ALREADY_DECIDED: {
    title: "The gate was already approved.",
    hint: "Nothing to do; `dwm gates <run>` shows the decision.",
  },
  ERR_GATE_REASON_REQUIRED: {
    title: "A rejection needs a reason.",
    hint: 'Pass --reason "...": the reworked packets get it in their prompt.',
  },
  ERR_GATE_PACKET_UNKNOWN: {
    title: "A packet named for rework is not a packet of the run.",
    hint: "Run `dwm status <run>` for the packet ids.",
  },
  ERR_GATE_PACKET_IN_FLIGHT: {
    title: "A packet to complete or rework is being attempted right now.",
    hint: "Wait until its attempt is recorded and reviewed, then decide the gate.",
  },
  ERR_GATE_REVIEW_REQUIRED: {
    title:
      "Approving this gate completes a reviewed packet, but the review of its last attempt was not given or does not match.",
    hint: "Load it with loadGateContext(runDir, state, gateId); `dwm approve` does this itself.",
  },
  ERR_GATE_APPROVAL_INVALID: {
    title: "An approval artifact does not match the approval schema.",
    hint: "Approvals are written by `dwm approve` / `dwm reject`; do not write them by hand.",
  },
  ERR_GATE_POLICY_INVALID: {
    title: "The approval policy file is not valid JSON or does not match the approval-policy schema.",
    hint: 'Write dwm.policy.json as {"kind":"approval-policy","schema_version":"1","approve":["write", ...]}; only risk categories may be listed.',
  },
  ERR_GATE_APPROVER_IS_WORKER: {
    title: "`dwm approve` / `dwm reject` was run from inside a DWM worker's environment.",
    hint: "Only the operator approves gates: run the command from your own shell, outside the attempt's worktree.",
  },
});
