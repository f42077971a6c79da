import { type Digest, digest } from "@dwm/core";
import type { GateState, RunState } from "@dwm/schemas";
import type { EventDraft } from "./events.js";

/** Gates a run compiled: gate id → the packets the compiled gate holds and where it comes from. */
export type CompiledGates = ReadonlyMap<
  string,
  { readonly packets: readonly string[]; readonly source: string }
>;

/** Why packets were reopened, for the new digest of the gates holding them and their reason. */
export interface ReopenCause {
  /** A short sentence: "revision 2 changed list", "gate human-gate rejected: …". */
  reason: string;
  /** What caused it, as data: the revision and run digest, or the rejection's gate and approval digest. */
  detail: Record<string, unknown>;
  /**
   * Reopened packets whose own content changed (a recompile's `changed`). A risk gate permits what
   * a packet does, so only these reopen it; a human-gate phase's gate judged the work, so any does.
   */
  changed: readonly string[];
}

/** The packets a gate holds: those it was opened with, else the compiled gate's. */
function heldBy(g: GateState, compiled: { readonly packets: readonly string[] } | undefined): string[] {
  return g.packets.length > 0 ? [...g.packets] : [...(compiled?.packets ?? [])];
}

/** A compiled gate whose answer (or open question) a reopen makes stale: approved, open, or reopened before. */
function staleCompiledGate(g: GateState): boolean {
  return g.state === "approved" || g.state === "open" || (g.state === "closed" && g.gate_digest !== null);
}

/**
 * The digest a compiled gate is reopened with: over the gate, what it was (digest, state, the
 * decision's digest), the held packets that were reopened and why. Never the digest it had, so
 * an approval of the old question is refused (ERR_GATE_STALE_DIGEST).
 */
export function reopenedGateDigest(
  gateId: string,
  g: GateState,
  packets: readonly string[],
  cause: ReopenCause,
): Digest {
  return digest({
    kind: "gate-reopened",
    gate_id: gateId,
    previous: { gate_digest: g.gate_digest, state: g.state, approval_digest: g.approval_digest },
    packets: [...packets],
    cause: cause.detail,
  });
}

/**
 * What follows reopening `reopened` (a recompile, or a rejection sending work back): every
 * compiled gate holding one of them whose decision or open question no longer describes the
 * work goes back to closed with a new digest (gate.reopened; the run asks again when it reaches
 * it), and every open gate the run opened itself (needs-human, merge conflict, fan-out limit)
 * holding one is superseded (gate.superseded). `except`: gates the caller decides itself.
 */
export function gatesAfterReopen(
  state: RunState,
  compiled: CompiledGates,
  reopened: readonly string[],
  cause: ReopenCause,
  except: readonly string[] = [],
): EventDraft[] {
  const back = new Set(reopened);
  const drafts: EventDraft[] = [];
  for (const [id, g] of Object.entries(state.gates)) {
    if (!g || except.includes(id)) continue;
    const c = compiled.get(id);
    const judged = c === undefined || c.source === "human-gate-phase" ? back : new Set(cause.changed);
    const hit = heldBy(g, c).filter((p) => judged.has(p) && back.has(p));
    if (hit.length === 0) continue;
    if (c !== undefined && staleCompiledGate(g)) {
      drafts.push({
        type: "gate.reopened",
        data: {
          gate_id: id,
          gate_digest: reopenedGateDigest(id, g, hit, cause),
          packets: hit,
          reason: `${cause.reason}; ${hit.join(", ")} will run again, so the gate is asked again`,
        },
      });
    } else if (c === undefined && g.state === "open") {
      drafts.push({
        type: "gate.superseded",
        data: { gate_id: id, packets: hit, reason: `${cause.reason}; ${hit.join(", ")} will run again` },
      });
    }
  }
  return drafts;
}

/** A packet's work as a gate asked again sees it. */
function workOf(state: RunState, id: string) {
  const p = state.packets[id];
  return {
    packet_id: id,
    attempts: p?.attempts ?? 0,
    packet_digest: p?.packet_digest ?? null,
    commit: p?.commit ?? null,
    merged_commit: p?.merged_commit ?? null,
  };
}

/**
 * The digest gate `gateId` is asked (opened) with now. The first time: `compiledDigest` (the
 * gate file's; a gate opened at run time passes its own). After gate.reopened: the digest that
 * event set. After a rejection: a digest over the rejection and the work it is asked about now
 * (`work`: the packets it holds and those they depend on), so the approver's answer names
 * what changed.
 */
export function gateAskDigest(
  state: RunState,
  gateId: string,
  compiledDigest: Digest,
  work: readonly string[],
): Digest {
  const g = state.gates[gateId];
  if (!g || g.gate_digest === null) return compiledDigest;
  if (g.state !== "rejected") return g.gate_digest as Digest;
  return digest({
    kind: "gate-asked-again",
    gate_id: gateId,
    after: { gate_digest: g.gate_digest, approval_digest: g.approval_digest },
    work: [...new Set(work)].map((id) => workOf(state, id)),
  });
}
