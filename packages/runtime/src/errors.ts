import { defineErrors, EXIT } from "@dwm/core";

/**
 * Errors of @dwm/runtime. The ERR_VERIFY_* codes are also the problem codes of a
 * verify report: `verifyRun` lists them as data, `openJournal`/`readJournal` throw
 * the first one they meet in a complete journal line.
 */
export const runtimeErrors = defineErrors({
  ERR_RUN_LOCKED: {
    title: "Another runner holds this run's lock.",
    hint: "Wait for it to finish or stop it (see the pid and host); a dead runner's lease is taken over once it expires.",
  },
  ERR_RUN_LOCK_LOST: {
    title: "This runner's lease was taken over by another process.",
    hint: "Another runner owns the run now; stop this one.",
  },
  ERR_JOURNAL_CLOSED: {
    title: "The journal was used after close().",
    hint: "Open the journal again with openJournal().",
  },
  ERR_JOURNAL_EVENT_INVALID: {
    title: "An event to append does not match the journal-event schema.",
    hint: "This is a bug in the stage that built the event; see details.problems.",
  },
  ERR_JOURNAL_TRANSITION: {
    title:
      "An event is not allowed in the current state of the run (e.g. completing a packet without an approved review).",
    hint: "This is a bug in the stage that built the event; see details for the packet or gate and its state.",
  },
  ERR_RUNTIME_RECOMPILE_MISMATCH: {
    title: "A recompile's change report does not match run.json and the journal.",
    hint: "Compile again; the change report must list packets relative to the run the journal last recorded.",
  },
  ERR_VERIFY_FILE_MISSING: {
    title: "A file the run names is missing.",
    hint: "Restore it from a backup or recompile; the run cannot be trusted without it.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_FILE_DIGEST: {
    title: "A file's digest differs from the digest recorded for it.",
    hint: "The file was changed after it was recorded; restore it or start a new run.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_FILE_PARSE: {
    title: "A JSON artifact of the run is not valid JSON.",
    hint: "The file was changed or damaged; restore it.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_FILE_SCHEMA: {
    title: "A JSON artifact of the run does not match its schema.",
    hint: "The file was changed or written by another version of DWM.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_FILE_NOT_CANONICAL: {
    title: "A JSON artifact is not in DWM's canonical rendering.",
    hint: "The file was edited by hand or by another tool; restore it.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_UNEXPECTED_FILE: {
    title: "The run store holds a file that neither run.json nor the journal names.",
    hint: "Remove it if it is yours; otherwise find out who put it there.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_SIGNATURE: {
    title:
      "A signed file the run relies on (approval, attestation) is unsigned, signed by a key the repository does not trust, forged, or no longer what was signed or recorded.",
    hint: "Nothing signed by an untrusted key counts; find out who wrote the file. `dwm verify` names the key and the file; dwm.operators.json lists the trusted keys.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_UNATTESTED: {
    title:
      "A completed packet or a completed run has no signed attestation: its evidence is vouched for by nobody.",
    hint: "Run `dwm run <run>` again with the operator's key: the runner attests what completed without an attestation.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_SYMLINK: {
    title: "The run store holds a symbolic link, or a recorded path goes through one.",
    hint: "Replace the link with the real file; DWM never follows links inside a run store.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_RUN_DIGEST: {
    title: "run.json is not the run.json the journal last recorded.",
    hint: "run.json was changed or recompiled without recording it; run `dwm compile` again or restore run.json.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_EVENT_PARSE: {
    title: "A complete journal line is not valid JSON.",
    hint: "The journal was changed; it is never repaired automatically.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_EVENT_SCHEMA: {
    title: "A journal event does not match the journal-event schema.",
    hint: "The journal was changed or written by another version of DWM.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_EVENT_NOT_CANONICAL: {
    title: "A journal line is not the canonical JSON of its event.",
    hint: "The journal was edited; it is never repaired automatically.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_EVENT_DIGEST: {
    title: "A journal event's digest does not match its content.",
    hint: "The event was changed after it was written.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_CHAIN: {
    title:
      "A journal event does not link to the one before it (`prev`), or the first event is not run.opened.",
    hint: "Events were removed, reordered or inserted.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_SEQ: {
    title: "Journal sequence numbers are not 1, 2, 3, …",
    hint: "Events were removed, reordered or inserted.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_TORN_TAIL: {
    title: "The journal ends in an incomplete line (a crash during an append).",
    hint: "Resume the run (`dwm run`): it truncates that line and only that line, and records the repair.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_STATE: {
    title: "The journal's events do not form a valid run history (an illegal state transition).",
    hint: "The journal was changed consistently or written by a faulty stage; see the event named.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_JOURNAL_TRUNCATED: {
    title: "The journal ends before the head recorded in journal.head: complete events were removed.",
    hint: "Restore journal.jsonl from a backup; DWM never rebuilds a history over recorded evidence.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_JOURNAL_HEAD: {
    title:
      "The journal's event at the head recorded in journal.head is not the event recorded there (the journal was replaced), or journal.head is damaged.",
    hint: "Restore journal.jsonl and journal.head from a backup; a journal is never replaced.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_JOURNAL_MISSING: {
    title:
      "The journal is missing or empty, but the run store holds its head or evidence (attempts, reviews, approvals, handoffs).",
    hint: "Restore journal.jsonl from a backup; a run never starts a new history over existing evidence.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_LEFTOVER_TEMP: {
    title: "A temporary file of an atomic write that a crashed process left behind.",
    hint: "Not tampering: `dwm run` removes it and journals that it did.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_LEFTOVER_ATTEMPT: {
    title:
      "Files of an attempt that was in flight when its runner died, not yet recorded in the journal (or the copy of a handoff its packet declares, with the bytes its attempt recorded, made before the event naming it).",
    hint: "Not tampering: `dwm run` abandons the attempt (journaled) and runs the packet again.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_LEFTOVER_ATTESTATION: {
    title:
      "A signed attestation of a completed packet or run, written but not journaled yet (its runner died in between): at the path of the next attestation, signed by a trusted key over that packet, attempt and run.",
    hint: "Not tampering: `dwm run` attests the packet (or run) again and journals it.",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_PENDING_APPROVAL: {
    title:
      "An approval of a gate of this run, written but not journaled yet (a runner held the lock, or the approve stopped before journaling).",
    hint: "Not tampering: `dwm run` checks it again and journals it, or journals why it refuses it (a gate decided, rejected or superseded since).",
    exitCode: EXIT.integrity,
  },
  ERR_VERIFY_LEFTOVER_REF_LOCK: {
    title:
      "A git lock file of a ref DWM owns for this run, left by a runner that died (or, for `dwm exec`'s and a queue worker's refs, younger than a lease: its writer may still hold it).",
    hint: "Not tampering: `dwm run` removes it and journals that it did.",
    exitCode: EXIT.integrity,
  },
});

export type RuntimeErrorCode = Exclude<keyof typeof runtimeErrors, "create" | "list">;
