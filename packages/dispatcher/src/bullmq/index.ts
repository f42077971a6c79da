export type { CollectEvidenceOptions } from "./collect-evidence.js";
export { collectEvidence } from "./collect-evidence.js";
export type { QueueUrl } from "./connection.js";
export { checkRedis, connectRedis, parseQueueUrl } from "./connection.js";
export type { RedisAttemptQueue, RedisQueueOptions } from "./coordinator.js";
export { createRedisAttemptQueue } from "./coordinator.js";
export {
  attemptJobId,
  backendsOf,
  baseRef,
  DEFAULT_QUEUE_PREFIX,
  evidenceRef,
  laneOf,
  laneQueueName,
  lanesFor,
} from "./names.js";
export type { PublishEvidenceOptions } from "./publish-evidence.js";
export { publishEvidence } from "./publish-evidence.js";
export type { AttemptWorker, AttemptWorkerEvent, AttemptWorkerOptions } from "./worker.js";
export { startAttemptWorker } from "./worker.js";
