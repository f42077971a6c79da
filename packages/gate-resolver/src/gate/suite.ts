// The gate-resolver's manifest gate: each case of fixtures/gate-resolver/manifest.json folds
// a history into the state of a compiled run (the runtime's foldJournal), fills an approval
// template (and, where a gate completes a packet, a review template) and resolves it with
// resolveGate. The drafts it returns are folded on top of the history, so every case also
// proves the runtime accepts them.
import path from "node:path";
import { digest, digestBytes, renderArtifact } from "@dwm/core";
import { foldJournal } from "@dwm/runtime";
import type { Approval, Gate, JournalEvent, Packet, Review, Run, RunState } from "@dwm/schemas";
import {
  applyEdits,
  type GateCase,
  type GateSuite,
  HistoryPlayer,
  type HistoryStep,
  type JsonEdit,
  readJson,
  testOperatorKey,
} from "@dwm/test-utils";
import { type GateResolution, type RunView, resolveGate, signApproval } from "../index.js";

/** The integration head every case's approval was shown, and the head "now" (unless a case edits the approval's). */
const HEAD = "1234567890abcdef1234567890abcdef12345678";

interface GateResolverCase extends GateCase {
  /** A compiled run below fixtures/gate-resolver (run.json, packets/, gates/). */
  run: string;
  history?: HistoryStep[];
  /** The gate decided. */
  gate: string;
  /**
   * An approval template: @run, @gate, @gate-digest (the gate's digest now), @head (the
   * integration head now) and @key (the test operator's key id) are filled in; signed with that key.
   */
  approval: string;
  approval_edits?: JsonEdit[];
  /** A review template for the held packet's last attempt: @run, @packet, @packet-digest. */
  review?: string;
  /** Whose review it is (default: the gate's first packet). */
  review_packet?: string;
  review_edits?: JsonEdit[];
}

function fill(v: unknown, names: Record<string, string>): unknown {
  if (typeof v === "string") {
    if (v in names) return names[v];
    return Object.entries(names).reduce((s, [k, x]) => s.replaceAll(k, x), v);
  }
  if (Array.isArray(v)) return v.map((x) => fill(x, names));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, names)]));
  return v;
}

function loadRun(dir: string): RunView {
  const run = readJson<Run>(path.join(dir, "run.json"));
  const packets = new Map(
    run.packets.map((p) => [p.packet_id, readJson<Packet>(path.join(dir, "packets", `${p.packet_id}.json`))]),
  );
  const gates = new Map(
    run.gates.map((g) => [g.gate_id, readJson<Gate>(path.join(dir, "gates", `${g.gate_id}.json`))]),
  );
  return { run, packets, gates };
}

function reviewOf(c: GateResolverCase, fixtures: string, view: RunView, state: RunState): Review | null {
  if (!c.review) return null;
  const id = c.review_packet ?? view.gates.get(c.gate)?.packets[0] ?? state.gates[c.gate]?.packets[0] ?? "";
  const packet = view.packets.get(id);
  const names = { "@run": view.run.run_id, "@packet-digest": packet ? digest(packet) : "", "@packet": id };
  const review = fill(readJson(path.join(fixtures, c.review)), names) as Review;
  return applyEdits({ ...review, attempt: state.packets[id]?.attempts ?? 1 }, c.review_edits);
}

function foldAfter(history: readonly unknown[], r: GateResolution, run: Run): RunState {
  const appended = r.events.map((e, i) => ({
    seq: history.length + i + 1,
    prev: digest(`resolved ${i}`),
    at: "2026-01-01T02:00:00.000Z",
    type: e.type,
    data: e.data,
    digest: digest(`resolved ${i + 1}`),
  }));
  return foldJournal([...history, ...appended] as unknown as JournalEvent[], run);
}

/** The gate-resolver's gate suite. */
export const gateResolverGate: GateSuite<GateResolverCase> = {
  name: "gate-resolver",
  caseKeys: [
    "run",
    "history",
    "gate",
    "approval",
    "approval_edits",
    "review",
    "review_packet",
    "review_edits",
  ],
  minCases: 15,
  async runCase(c, ctx) {
    const view = loadRun(path.join(ctx.fixtures, c.run));
    const player = new HistoryPlayer(view.run, { gatePackets: (id) => view.gates.get(id)?.packets ?? [] });
    const history = player.events(c.history ?? []);
    const state = foldJournal(history as unknown as JournalEvent[], view.run);
    const gateDigest = state.gates[c.gate]?.gate_digest ?? player.gateDigest(c.gate);
    const key = testOperatorKey();
    const names = {
      "@run": view.run.run_id,
      "@gate-digest": gateDigest,
      "@gate": c.gate,
      "@head": HEAD,
      "@key": key.keyId,
    };
    const approval = applyEdits(
      fill(readJson(path.join(ctx.fixtures, c.approval)), names) as Approval,
      c.approval_edits,
    );
    const approvalPath = `approvals/${c.gate}/1.json`;
    // The file the journal names is the signed bundle; a template edited out of its schema is never signed.
    let approvalDigest = digest("unsigned");
    try {
      approvalDigest = digestBytes(renderArtifact(signApproval(approval, key)));
    } catch {
      // resolveGate refuses it below, with the code the case expects.
    }
    const review = reviewOf(c, ctx.fixtures, view, state);
    const result = await ctx.outcome(() =>
      resolveGate(structuredClone(state), approval, view, {
        approvalPath,
        approvalDigest,
        integrationHead: HEAD,
        review,
      }),
    );
    if (result === undefined) return;
    const after = foldAfter(history, result, view.run);
    const approvalFile = result.events[0]?.data as { files?: { digest: string }[] } | undefined;
    ctx.checkAll({
      events: result.events.map((e) => {
        const id =
          (e.data as { packet_id?: string; artifact?: string }).packet_id ??
          (e.data as { artifact?: string }).artifact;
        return id ? `${e.type}:${id}` : e.type;
      }),
      copies: result.copies.map((k) => `${k.from} -> ${k.to}`),
      packets_after: Object.entries(after.packets).map(([id, p]) => `${id}:${p?.state}`),
      gate_after: after.gates[c.gate]?.state,
      approval_file: approvalFile?.files?.[0]?.digest === approvalDigest,
    });
    ctx.golden("resolution", digest(result));
  },
};
