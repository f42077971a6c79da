export type { QueueUrl } from "./connection.js";
export { checkRedis, connectRedis, parseQueueUrl } from "./connection.js";
export type { RedisAttemptQueue, RedisQueueOptions } from "./coordinator.js";
export { createRedisAttemptQueue } from "./coordinator.js";
export type { CollectEvidenceOptions, PublishEvidenceOptions } from "./evidence.js";
export { collectEvidence, publishEvidence } from "./evidence.js";
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
export type { AttemptWorker, AttemptWorkerEvent, AttemptWorkerOptions } from "./worker.js";
export { startAttemptWorker } from "./worker.js";
