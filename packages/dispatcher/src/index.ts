export { dispatcherErrors } from "./errors.js";
export { fanoutFrontierRun } from "./fanout.js";
export type { IntegrationPorts, MergeResult } from "./integration.js";
export {
  conflictDrafts,
  integrationBranch,
  integrationHead,
  mergeConflictGate,
  mergeConflictGateId,
  mergeIntoIntegration,
} from "./integration.js";
export type {
  AttemptJob,
  AttemptQueue,
  AttemptSettlement,
  ExecuteAttempt,
  Lease,
  WorkerPoolOptions,
} from "./queue.js";
export { createWorkerPool } from "./queue.js";
export type { DispatcherPorts, ProgressEvent, RunWorkflowOptions } from "./run/types.js";
export { runWorkflow } from "./run-workflow.js";
