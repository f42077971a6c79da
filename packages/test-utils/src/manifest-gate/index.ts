export type { FileTamper, JsonEdit } from "./fixture-files.js";
export {
  applyEdits,
  copyTree,
  readJson,
  scrubPaths,
  tamperFiles,
  treeDigest,
  treeDigests,
} from "./fixture-files.js";
export type { GateCliOptions } from "./gate-cli.js";
export { GATE_SUMMARY_FILE, runGateCli, summaryLine } from "./gate-cli.js";
export type { HistoryDraft, HistoryEvent, HistoryOptions, HistoryRun, HistoryStep } from "./history.js";
export { HistoryPlayer } from "./history.js";
export type { CaseContext, GateCase, GateSuite, RunGateOptions } from "./run-manifest-gate.js";
export { runManifestGate } from "./run-manifest-gate.js";
