export { ingesterErrors } from "./errors.js";
export type {
  ExpandFanoutInput,
  FanoutExpansion,
  FanoutFile,
  FanoutSource,
  FanoutTemplate,
  ReduceEntry,
} from "./expand-fanout.js";
export {
  expandFanout,
  fanoutItemId,
  fanoutLimitGate,
  reduceList,
  writeFanoutFiles,
} from "./expand-fanout.js";
export type { InfraOutcome, InfraRetryDecision, InfraRetryPolicy } from "./infra-retry.js";
export { DEFAULT_INFRA_RETRY_POLICY, nextInfraRetry } from "./infra-retry.js";
export type { HandoffCopy, IngestContext, IngestNext, IngestResult } from "./ingest-review.js";
export { ingestReview, needsHumanGate, needsHumanGateId, reviewPath } from "./ingest-review.js";
export { registerHandoffs } from "./register-handoffs.js";
