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

function openGate(ctx: RunContext, g: GateToOpen): void {
  const entry = ctx.setup.loaded.run.gates.find((e) => e.gate_id === g.gate_id);
  if (!entry) return;
  ctx.log.append([
    {
      type: "gate.opened",
      data: { gate_id: g.gate_id, gate_digest: entry.digest, packets: g.packets, reason: g.reason },
    },
  ]);
}

/**
 * The frontier for this turn, after doing what it asks before anything is dispatched: open the
 * gates it names (human-gate phases without workers), and expand the fan-outs it lists (item
 * packets and fanout.expanded, a fan-out limit gate, or a failed fan-out).
 */
export function frontierStep(ctx: RunContext): FrontierSummary {
  const { setup, log } = ctx;
  let frontier = log.frontier();
  for (const g of frontier.open_gates) openGate(ctx, g);
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
