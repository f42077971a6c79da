import type { Digest } from "@dwm/core";
import { type EventDraft, gateAskDigest } from "@dwm/runtime";
import type { FrontierSummary } from "@dwm/scheduler";
import type { GateToOpen } from "@dwm/schemas";
import type { ExpandResult } from "../fanout.js";
import type { RunContext } from "./context.js";

/** The progress note an expansion gives (null: the gate.opened event says it all). */
export function expansionNote(first: string, r: ExpandResult): string | null {
  if (r.kind === "expanded")
    return `fan-out ${first}: ${r.items} items, ${r.added} new or changed item packets, ${r.dropped} dropped`;
  return r.kind === "gate" ? null : `fan-out ${first}: ${r.reason}`;
}

/**
 * Open a gate the frontier names, with the digest it is asked with now: the gate file's the first
 * time; after a reopen or a rejection, one over what changed (gateAskDigest), so an approval of
 * the earlier question never counts for this one.
 */
function openGate(ctx: RunContext, g: GateToOpen): void {
  const { run } = ctx.setup.loaded;
  const entry = run.gates.find((e) => e.gate_id === g.gate_id);
  if (!entry) return;
  const deps = new Map(run.packets.map((p) => [p.packet_id, p.depends_on]));
  const work = g.packets.flatMap((id) => [id, ...(deps.get(id) ?? [])]);
  const gateDigest = gateAskDigest(ctx.log.state, g.gate_id, entry.digest as Digest, work);
  ctx.log.append([
    {
      type: "gate.opened",
      data: { gate_id: g.gate_id, gate_digest: gateDigest, packets: g.packets, reason: g.reason },
    },
  ]);
}

/** What the frontier says to skip and to bring back, as journal drafts. */
export function skipDrafts(f: Pick<FrontierSummary, "skip" | "unskip">): EventDraft[] {
  return [
    ...(f.unskip ?? []).map(
      (id): EventDraft => ({
        type: "packet.reopened",
        data: {
          packet_id: id,
          reason:
            "nothing skips it any more: its skip gates are approved and nothing it depends on is skipped",
        },
      }),
    ),
    ...(f.skip ?? []).map((s): EventDraft => ({ type: "packet.skipped", data: { ...s } })),
  ];
}

/**
 * Journal the skips the frontier names (packet.skipped: a skip gate not approved, or a skipped
 * packet upstream) and bring back skipped packets nothing skips any more (packet.reopened),
 * until it names neither: what depends on a skipped packet is skipped on the next look.
 */
function applySkips(ctx: RunContext, first: FrontierSummary): FrontierSummary {
  let frontier = first;
  for (let drafts = skipDrafts(frontier); drafts.length > 0; drafts = skipDrafts(frontier)) {
    ctx.log.append(drafts);
    frontier = ctx.log.frontier();
  }
  return frontier;
}

/** Several packets may ask for the same gate (a rejected risk gate holding reworked packets): one ask, holding all of them. */
export function oneAskPerGate(gates: readonly GateToOpen[]): GateToOpen[] {
  const byId = new Map<string, GateToOpen>();
  for (const g of gates) {
    const seen = byId.get(g.gate_id);
    if (seen) seen.packets = [...new Set([...seen.packets, ...g.packets])];
    else byId.set(g.gate_id, { ...g, packets: [...g.packets] });
  }
  return [...byId.values()];
}

/**
 * The frontier for this turn, after doing what it asks before anything is dispatched: open the
 * gates it names (human-gate phases without workers), and expand the fan-outs it lists (item
 * packets and fanout.expanded, a fan-out limit gate, or a failed fan-out).
 */
export function frontierStep(ctx: RunContext): FrontierSummary {
  const { setup, log } = ctx;
  let frontier = applySkips(ctx, log.frontier());
  for (const g of oneAskPerGate(frontier.open_gates)) openGate(ctx, g);
  if (frontier.open_gates.length > 0) frontier = log.frontier();
  if (frontier.expand.length > 0) {
    for (const first of frontier.expand) {
      const note = expansionNote(
        first,
        setup.fan.expand(first, log.state, (drafts) => log.append(drafts)),
      );
      if (note !== null) log.note(note);
    }
    frontier = log.frontier();
  }
  return frontier;
}
