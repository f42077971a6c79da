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
export { applyRecompile } from "./recompile.js";
export { verifyRun } from "./verify.js";
export type { SignatureReport } from "./verify-signatures.js";
export { trustFor, verifySignatures } from "./verify-signatures.js";
