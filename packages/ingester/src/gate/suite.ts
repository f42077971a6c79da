// The ingester's manifest gate: each case of fixtures/ingester/manifest.json folds a history
// into the state of a compiled run (the runtime's foldJournal), fills a review template for
// the packet's current attempt, and ingests it with ingestReview. The drafts it returns are
// then folded on top of the history, so every case also proves the runtime accepts them.
import path from "node:path";
import { digest } from "@dwm/core";
import { foldJournal } from "@dwm/runtime";
import type { JournalEvent, Packet, Review, Run } from "@dwm/schemas";
import {
  applyEdits,
  type CaseContext,
  type GateCase,
  type GateSuite,
  type HistoryEvent,
  HistoryPlayer,
  type HistoryStep,
  type JsonEdit,
  readJson,
} from "@dwm/test-utils";
import { type IngestContext, type IngestResult, ingestReview } from "../index.js";

interface IngesterCase extends GateCase {
  /** A compiled run below fixtures/ingester (run.json, packets/, gates/). */
  run: string;
  history?: HistoryStep[];
  /** The reviewed packet. */
  packet: string;
  /** A review template below fixtures/ingester: @run, @packet, @packet-digest are filled in. */
  review: string;
  review_edits?: JsonEdit[];
  packet_edits?: JsonEdit[];
  /** IngestContext besides packet and run; `now` defaults to 2026-01-01T01:00:00.000Z. */
  context?: {
    now?: string;
    retry_after_ms?: number;
    infra_policy?: IngestContext["infraPolicy"];
  };
}

function fill(v: unknown, names: Record<string, string>): unknown {
  if (typeof v === "string") {
    if (v in names) return names[v];
    return v.replaceAll("@run", names["@run"] as string).replaceAll("@packet", names["@packet"] as string);
  }
  if (Array.isArray(v)) return v.map((x) => fill(x, names));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, names)]));
  return v;
}

function reviewFor(c: IngesterCase, ctx: CaseContext, run: Run, packet: Packet, attempt: number): Review {
  const template = readJson(path.join(ctx.fixtures, c.review));
  const names = { "@run": run.run_id, "@packet": c.packet, "@packet-digest": digest(packet) };
  const review = fill(template, names) as Review;
  return applyEdits({ ...review, attempt }, c.review_edits);
}

function observe(
  r: IngestResult,
  after: ReturnType<typeof foldJournal>,
  id: string,
): Record<string, unknown> {
  return {
    events: r.events.map((e) => e.type),
    next: r.next,
    copies: r.copies.map((k) => `${k.from} -> ${k.to}`),
    state_after: after.packets[id]?.state,
    gates_after: Object.entries(after.gates)
      .filter(([, g]) => g?.state === "open")
      .map(([g]) => g),
  };
}

/** The ingester's gate suite. */
export const ingesterGate: GateSuite<IngesterCase> = {
  name: "ingester",
  caseKeys: ["run", "history", "packet", "review", "review_edits", "packet_edits", "context"],
  minCases: 15,
  async runCase(c, ctx) {
    const dir = path.join(ctx.fixtures, c.run);
    const run = readJson<Run>(path.join(dir, "run.json"));
    const packetFile = path.join(dir, "packets", `${c.packet}.json`);
    const packet = applyEdits(readJson<Packet>(packetFile), c.packet_edits);
    const history = new HistoryPlayer(run).events(c.history ?? []);
    const state = foldJournal(history as unknown as JournalEvent[], run);
    const review = reviewFor(c, ctx, run, packet, state.packets[c.packet]?.attempts ?? 1);
    const context: IngestContext = {
      packet,
      run,
      now: c.context?.now ?? "2026-01-01T01:00:00.000Z",
      retryAfterMs: c.context?.retry_after_ms,
      infraPolicy: c.context?.infra_policy,
    };
    const result = await ctx.outcome(() => ingestReview(structuredClone(state), review, context));
    if (result === undefined) return;
    const appended: HistoryEvent[] = result.events.map((e, i) => ({
      seq: history.length + i + 1,
      prev: digest(`ingested ${i}`),
      at: context.now,
      type: e.type,
      data: e.data as Record<string, unknown>,
      digest: digest(`ingested ${i + 1}`),
    }));
    const after = foldJournal([...history, ...appended] as unknown as JournalEvent[], run);
    ctx.checkAll(observe(result, after, c.packet));
    ctx.golden("result", digest(result));
  },
};
