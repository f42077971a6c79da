import path from "node:path";
import { digest, readArtifact } from "@dwm/core";
import type { Gate, JournalEvent, RecompileChanges, Run, RunState } from "@dwm/schemas";
import { runtimeErrors } from "./errors.js";
import type { EventDraft } from "./events.js";
import { type CompiledGates, gatesAfterReopen } from "./gate-reopen.js";
import type { Journal } from "./journal.js";

/** The packets each gate of run.json holds, from the gate files (digest-checked against run.json). */
function compiledGates(runDir: string, run: Run): CompiledGates {
  const out = new Map<string, { packets: string[]; source: string }>();
  for (const entry of run.gates) {
    const g = readArtifact<Gate>(path.join(runDir, "gates", `${entry.gate_id}.json`), "gate", {
      expectDigest: entry.digest,
    });
    out.set(entry.gate_id, { packets: g.value.packets, source: g.value.source });
  }
  return out;
}

/**
 * Record a recompile in the journal: run.recompiled with the compiler's change
 * report, then, for every packet that changed or depends on one and has left
 * `pending`, packet.reopened (after packet.abandoned when a crash left it in
 * flight); then every gate whose answer no longer describes the work: a compiled
 * gate (approved, open) holding a reopened packet goes back to closed with a new
 * digest (gate.reopened), an open run-time gate holding one is superseded
 * (gatesAfterReopen). Completed packets outside the report stay completed. Call it
 * with a journal opened with `{ recompile: true }` after the new run.json is written.
 * Returns the events appended ([] when run.json is the one already recorded).
 */
export function applyRecompile(journal: Journal, changes: RecompileChanges): JournalEvent[] {
  const run = journal.reloadRun();
  const runDigest = digest(run);
  const state = journal.state;
  if (runDigest === state.run_digest) return [];
  checkReport(state, run, changes);
  const { drafts: packets, reopened } = reopenDrafts(state, changes, run.revision);
  // Gates the recompile itself added, changed or removed start over with run.json's digest.
  const own = [
    ...(changes.gates?.added ?? []),
    ...(changes.gates?.changed ?? []),
    ...(changes.gates?.removed ?? []),
  ];
  const cause = {
    reason: `revision ${run.revision} changed ${changes.changed.join(", ") || "the plan"}`,
    detail: { revision: run.revision, run_digest: runDigest, changed: changes.changed },
    changed: changes.changed,
  };
  // A changed packet a risk gate permitted in advance changes the question even before it ran.
  const asked = [...new Set([...reopened, ...changes.changed])];
  return journal.appendAll([
    {
      type: "run.recompiled",
      data: { run_digest: runDigest, plan_digest: run.plan_digest, revision: run.revision, changes },
    },
    ...packets,
    ...gatesAfterReopen(state, compiledGates(journal.runDir, run), asked, cause, own),
  ]);
}

/** The report must turn the journal's packet set into run.json's (fan-out items aside). */
function checkReport(state: RunState, run: Run, changes: RecompileChanges): void {
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
}

/** packet.reopened for every changed or downstream packet that left `pending` (abandoned first when in flight). */
function reopenDrafts(
  state: RunState,
  changes: RecompileChanges,
  revision: number,
): { drafts: EventDraft[]; reopened: string[] } {
  const changed = new Set(changes.changed);
  const drafts: EventDraft[] = [];
  const reopened: string[] = [];
  for (const id of new Set([...changes.changed, ...changes.downstream])) {
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
          ? `the packet changed in revision ${revision}`
          : `an upstream packet changed in revision ${revision}`,
      },
    });
    reopened.push(id);
  }
  return { drafts, reopened };
}
