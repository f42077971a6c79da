export type { PendingApproval, StoredApproval } from "./approval-store.js";
export {
  journaledApprovalPaths,
  pendingApprovals,
  readPendingApproval,
  writeApproval,
} from "./approval-store.js";
export { loadGateReview } from "./context.js";
export { gateResolverErrors } from "./errors.js";
export type { GateView } from "./gate-view.js";
export { gateView, RISK_GATE_SOURCES } from "./gate-view.js";
export { POLICY_FILE, policyApprovals, readApprovalPolicy } from "./policy.js";
export { isFinalRefusal, refusalDraft } from "./refusal.js";
export type { GateContext, GateResolution } from "./resolve-gate.js";
export { approvalPath, buildApproval, resolveGate } from "./resolve-gate.js";
export type { ApprovalProblem, SignedApprovalReading } from "./signed-approval.js";
export {
  APPROVAL_PREDICATE_TYPE,
  approvalStatement,
  INTEGRATION_HEAD_SUBJECT,
  readSignedApproval,
  signApproval,
} from "./signed-approval.js";
export type { HandoffCopy, RunView } from "./types.js";
export { workerEnvironmentReason } from "./worker-env.js";
