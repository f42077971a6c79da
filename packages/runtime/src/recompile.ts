import { digest } from "@dwm/core";
import type { JournalEvent, RecompileChanges } from "@dwm/schemas";
import { runtimeErrors } from "./errors.js";
import type { EventDraft } from "./events.js";
import type { Journal } from "./journal.js";

/**
 * Record a recompile in the journal: run.recompiled with the compiler's change
 * report, then, for every packet that changed or depends on one and has left
 * `pending`, packet.reopened (after packet.abandoned when a crash left it in
 * flight). Completed packets outside the report stay completed. Call it with a
 * journal opened with `{ recompile: true }` after the new run.json is written.
 * Returns the events appended ([] when run.json is the one already recorded).
 */
export function applyRecompile(journal: Journal, changes: RecompileChanges): JournalEvent[] {
  const run = journal.reloadRun();
  const runDigest = digest(run);
  const state = journal.state;
  if (runDigest === state.run_digest) return [];

  // The report must turn the journal's packet set into run.json's (fan-out items aside).
  const after = new Set(Object.keys(state.packets).filter((id) => state.packets[id]?.fanout_from === null));
  for (const id of changes.removed) after.delete(id);
  for (const id of changes.added) after.add(id);
  const want = new Set(run.packets.map((p) => p.packet_id));
  const missing = [...want].filter((id) => !after.has(id));
  const extra = [...after].filter((id) => !want.has(id));
  if (missing.length > 0 || extra.length > 0) {
    throw runtimeErrors.create(
      "ERR_RUNTIME_RECOMPILE_MISMATCH",
      `the change report does not turn the recorded packets into run.json's: missing ${missing.join(", ") || "none"}, extra ${extra.join(", ") || "none"}`,
      { details: { missing, extra } },
    );
  }

  const drafts: EventDraft[] = [
    {
      type: "run.recompiled",
      data: { run_digest: runDigest, plan_digest: run.plan_digest, revision: run.revision, changes },
    },
  ];
  const changed = new Set(changes.changed);
  const seen = new Set<string>();
  for (const id of [...changes.changed, ...changes.downstream]) {
    if (seen.has(id)) continue;
    seen.add(id);
    const p = state.packets[id];
    if (!p || p.state === "pending") continue;
    if (p.state === "dispatched" || p.state === "attempted") {
      drafts.push({
        type: "packet.abandoned",
        data: { packet_id: id, attempt: p.attempts, reason: "in flight when the run was recompiled" },
      });
    }
    drafts.push({
      type: "packet.reopened",
      data: {
        packet_id: id,
        reason: changed.has(id)
          ? `the packet changed in revision ${run.revision}`
          : `an upstream packet changed in revision ${run.revision}`,
      },
    });
  }
  return journal.appendAll(drafts);
}
