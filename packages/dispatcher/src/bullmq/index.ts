export type { CollectEvidenceOptions } from "./collect-evidence.js";
export { collectEvidence } from "./collect-evidence.js";
export type { QueueTlsFiles, QueueUrl } from "./connection.js";
export { checkRedis, connectRedis, parseQueueUrl, tlsOptions } from "./connection.js";
export type { RedisAttemptQueue, RedisQueueOptions } from "./coordinator.js";
export { createRedisAttemptQueue } from "./coordinator.js";
export type { ListWorkersOptions } from "./fleet.js";
export { listWorkers } from "./fleet.js";
export {
  backendsOf,
  baseRef,
  DEFAULT_QUEUE_PREFIX,
  evidenceRef,
  jobIdOf,
  laneOf,
  laneQueueName,
  lanesFor,
  queuedAttemptBranch,
  runRefPrefix,
  workRef,
} from "./names.js";
export type { PublishEvidenceOptions } from "./publish-evidence.js";
export { publishEvidence } from "./publish-evidence.js";
export type { AttemptWorker, AttemptWorkerEvent, AttemptWorkerOptions } from "./worker.js";
export { startAttemptWorker } from "./worker.js";
