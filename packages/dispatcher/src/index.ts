export type { PacketFacts } from "./attestation.js";
export {
  assuranceOf,
  evidenceFiles,
  PACKET_PREDICATE_TYPE,
  packetAttestationPath,
  packetStatement,
  RUN_PREDICATE_TYPE,
  runAttestationPath,
  runStatement,
} from "./attestation.js";
export { dispatcherErrors } from "./errors.js";
export { fanoutFrontierRun } from "./fanout.js";
export type { IntegrationPorts, MergeResult } from "./integration.js";
export {
  approvalHead,
  conflictDrafts,
  integrationBranch,
  integrationHead,
  mergeConflictGate,
  mergeConflictGateId,
  mergeIntoIntegration,
} from "./integration.js";
export type {
  Adoption,
  AttemptJob,
  AttemptQueue,
  AttemptSettlement,
  ExecuteAttempt,
  InFlightAttempt,
  Lease,
  WorkerPoolOptions,
} from "./queue.js";
export { createWorkerPool } from "./queue.js";
export { attestCompletedPackets } from "./run/attestor.js";
export type { DispatcherPorts, ProgressEvent, RunWorkflowOptions } from "./run/types.js";
export type { RunIdentity } from "./run-identity.js";
export { checkQueueResume, newRunInstance, runInstance } from "./run-identity.js";
export { runWorkflow } from "./run-workflow.js";
