export type { FakeCliScenario } from "./fake-clis/index.js";
export { fakeCliBinDir, pathWithFakeClis } from "./fake-clis/index.js";
export { FakeClock } from "./fake-clock.js";
export type { FakeProcessHandler } from "./fake-process-runner.js";
export { FakeProcessRunner } from "./fake-process-runner.js";
export type { FakeSandboxCall } from "./fake-sandbox.js";
export { FakeSandbox } from "./fake-sandbox.js";
export type {
  CaseContext,
  FileTamper,
  GateCase,
  GateCliOptions,
  GateSuite,
  HistoryDraft,
  HistoryEvent,
  HistoryOptions,
  HistoryRun,
  HistoryStep,
  JsonEdit,
  RunGateOptions,
} from "./manifest-gate/index.js";
export {
  applyEdits,
  copyTree,
  GATE_SUMMARY_FILE,
  HistoryPlayer,
  readJson,
  runGateCli,
  runManifestGate,
  scrubPaths,
  summaryLine,
  tamperFiles,
  treeDigest,
  treeDigests,
} from "./manifest-gate/index.js";
export type {
  ModelDialect,
  ModelScript,
  ModelServer,
  ModelServerOptions,
  RecordedRequest,
  ScriptTurn,
  ScriptUsage,
} from "./model-server/index.js";
export { addFilePatch, startModelServer, updateFilePatch } from "./model-server/index.js";
export { testOperatorKey, testTrust, trustTestOperator, writeTestOperatorConfig } from "./operator.js";
export type { RedisServer, RedisServerOptions, TlsFiles } from "./redis-server.js";
export { makeTlsFiles, opensslAvailable, redisServerAvailable, startRedisServer } from "./redis-server.js";
export type { TempDir } from "./temp.js";
export { git, makeGitRepo, makeTempDir } from "./temp.js";
export type { TestPart } from "./test-parts.js";
export {
  hasPart,
  leftOut,
  missingPartMessage,
  referencePlansDir,
  requirePart,
  skippedParts,
  TEST_PARTS,
} from "./test-parts.js";
