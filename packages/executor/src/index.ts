export { refSegment } from "@dwm/core";
export { COVERED_AGENT_CLI_VERSIONS } from "./agent-cli-versions.js";
export { attemptFiles } from "./attempt-files.js";
export { removeDeadAttemptSpaces } from "./attempt-spaces.js";
export {
  loadWorkerBindings,
  parseWorkerBindings,
  resolveBinding,
  uniformBindings,
  WORKER_BINDINGS_FILE,
} from "./bindings.js";
export { executorErrors } from "./errors.js";
export { claudePermissionMode } from "./internal/backends/claude.js";
export { CODEX_GATEWAY_PROVIDER, codexSandbox } from "./internal/backends/codex.js";
export { isVerificationCommand } from "./internal/checks.js";
export { BACKEND_ENV_NAMES, BASE_ENV_NAMES, isSecretName } from "./internal/env.js";
export type { GitPort, GitResult, GitRunOptions } from "./internal/git.js";
export { createGit } from "./internal/git.js";
export { looksLikePath } from "./internal/ownership.js";
export { attemptRef, integrationBranch, qualifiedRef, runRefPrefix } from "./refs.js";
export type { RepositoryAllowance, RepositoryFinding, RepositorySnapshot } from "./repo-integrity.js";
export {
  checkoutFlagFindings,
  compareRepositorySnapshots,
  flaggedPaths,
  snapshotRepository,
} from "./repo-integrity.js";
export type { ExecutorPorts } from "./run-attempt.js";
export { DWM_GIT_IDENTITY, INPUTS_DIR, isInfraOutcome, runAttempt } from "./run-attempt.js";
export { executorVersion } from "./version.js";
export type { WorkerLayout } from "./worker-view.js";
export { loopbackEndpoint, WORKER_IO, WORKER_IO_DIR, workerNetwork, workerView } from "./worker-view.js";
