export { reviewerErrors } from "./errors.js";
export type { FindingDescriptor, ReviewFindingCode } from "./findings.js";
export { reviewFindings } from "./findings.js";
export { CONTROL_FILE_NAMES, isControlFile } from "./internal/checks/control-files.js";
export type { ReworkRequest } from "./repair-prompt.js";
export { renderRepairPrompt, renderReworkPrompt } from "./repair-prompt.js";
export type {
  InfraOutcome,
  ReviewerWorkerResult,
  ReviewOptions,
  RunReviewerWorker,
} from "./review-attempt.js";
export { INFRA_OUTCOMES, isInfraOutcome, reviewAttempt } from "./review-attempt.js";
export { renderReviewerPrompt } from "./reviewer-prompt.js";
export { REVIEWER_VERSION } from "./version.js";
