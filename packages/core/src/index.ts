export type { ReadArtifactOptions, WrittenArtifact } from "./artifact.js";
export { readArtifact, writeArtifact } from "./artifact.js";
export type {
  ArtifactBytesCheck,
  ArtifactCheck,
  ArtifactFileRead,
  ArtifactProblem,
  ArtifactProblemDetail,
  ArtifactProblemKind,
  ArtifactReadOptions,
  CheckArtifactOptions,
} from "./artifact-check.js";
export {
  checkArtifact,
  checkArtifactBytes,
  checkArtifactContent,
  isReadProblem,
  readArtifactFile,
} from "./artifact-check.js";
export { appendFileDurable, fsyncDir, writeFileAtomic } from "./atomic-fs.js";
export type { BoundedRead } from "./bounded-read.js";
export { readFileBounded } from "./bounded-read.js";
export { type BubblewrapOptions, bubblewrapArgs, bubblewrapSandbox } from "./bubblewrap-sandbox.js";
export type { Digest } from "./canonical.js";
export {
  canonicalArtifact,
  canonicalJson,
  DIGEST_PATTERN,
  digest,
  digestBytes,
  isDigest,
  renderArtifact,
  shortDigest,
} from "./canonical.js";
export type { DwmErrorJSON, ErrorCatalogue, ErrorDescriptor, ExitCode } from "./errors.js";
export { coreErrors, DwmError, defineErrors, EXIT, isDwmError } from "./errors.js";
export { fsErrorOf } from "./fs-errors.js";
export { gitDate } from "./git-date.js";
export { type HostProcessRunner, hostProcessRunner } from "./host-process-runner.js";
export type { ReadJsonOptions } from "./json-input.js";
export { JSON_INPUT_LIMITS, parseJsonText, readJsonFile } from "./json-input.js";
export type { AcquireLockOptions, LockHandle, LockInfo } from "./lock.js";
export { acquireLock, pidAlive } from "./lock.js";
export { MinHeap } from "./min-heap.js";
export {
  createOperatorKey,
  dwmConfigDir,
  emptyOperators,
  loadOperatorKey,
  OPERATOR_KEY_FILE,
  OPERATOR_PUBLIC_KEY_FILE,
  OPERATORS_FILE,
  readOperators,
  readTrustStore,
  trustOperatorKey,
  trustStoreOf,
} from "./operator-keys.js";
export type { InfraOutcome } from "./outcomes.js";
export { INFRA_OUTCOMES, isInfraOutcome } from "./outcomes.js";
export { checkRelativePath, isInside, resolveInside } from "./paths.js";
export type { Clock, ProcessRequest, ProcessResult, ProcessRunner } from "./ports.js";
export { systemClock } from "./ports.js";
export { execaProcessRunner, MAX_CAPTURED_OUTPUT, nodeProcessRunner } from "./process-runner.js";
export { packetRefPath, refSegment } from "./ref-names.js";
export type {
  PreparedSpawn,
  Sandbox,
  SandboxBind,
  SandboxEndpoint,
  SandboxProbe,
  SandboxView,
} from "./sandbox.js";
export { homeSecretPaths, noSandbox } from "./sandbox.js";
export type {
  OpenedStatement,
  OpenResult,
  SignatureProblem,
  SigningKey,
  TrustedKey,
  TrustStore,
} from "./signing.js";
export {
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  keyIdOf,
  openStatement,
  parsePublicKey,
  publicKeyPem,
  publicKeySsh,
  rawEd25519,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  signStatement,
} from "./signing.js";
export { signingErrors } from "./signing-errors.js";
