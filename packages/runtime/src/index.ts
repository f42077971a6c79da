export { runtimeErrors } from "./errors.js";
export type { EventData, EventDraft, EventOf, EventType, JournalScan, TornTail } from "./events.js";
export { JOURNAL_FILE, scanJournal } from "./events.js";
export { applyEvent, foldJournal, initialState } from "./fold.js";
export type { CompiledGates, ReopenCause } from "./gate-reopen.js";
export { gateAskDigest, gatesAfterReopen, reopenedGateDigest } from "./gate-reopen.js";
export type { Journal, OpenJournalOptions, ReadJournalResult } from "./journal.js";
export {
  LOCK_FILE,
  openJournal,
  RUN_FILE,
  readJournal,
  readRun,
  STATE_FILE,
  stateCacheStatus,
} from "./journal.js";
export {
  EVIDENCE_DIRS,
  evidenceFolders,
  HEAD_FILE,
  headProblems,
  readJournalHead,
  writeJournalHead,
} from "./journal-head.js";
export type { Leftover, LeftoverEvidence } from "./leftovers.js";
export {
  leftoverLive,
  leftoverProblem,
  refLockLeftovers,
  runLockHeld,
  storeLeftovers,
  tempFileOf,
} from "./leftovers.js";
export { applyRecompile } from "./recompile.js";
export { restoreRewrittenHandoffs } from "./restore-handoffs.js";
export type { StoreCheck } from "./verify.js";
export { checkStore, checkStoreFolded, verifyCacheFile, verifyRun } from "./verify.js";
export type { SignatureReport } from "./verify-signatures.js";
export { trustFor, verifySignatures } from "./verify-signatures.js";
