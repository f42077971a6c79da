import fs from "node:fs";
import { FANOUT_ITEM_INPUT, type LoadedRun, renderPrompt } from "@dwm/compiler";
import { canonicalJson, type Digest, digest, digestBytes, readArtifact, resolveInside } from "@dwm/core";
import { resolveBinding } from "@dwm/executor";
import {
  expandFanout,
  type FanoutExpansion,
  type FanoutSource,
  fanoutLimitGate,
  type ReduceEntry,
  reduceList,
  writeFanoutFiles,
} from "@dwm/ingester";
import type { EventDraft } from "@dwm/runtime";
import type { FrontierRun } from "@dwm/scheduler";
import type { AttemptInput, FanoutItemState, Packet, RunState, WorkerBindings } from "@dwm/schemas";
import { dispatcherErrors } from "./errors.js";

/** An item packet the journal names, read from its file inside the run and checked against its digest. */
function readItemPacket(dir: string, item: { packet_id: string; digest: string }): Packet {
  const file = resolveInside(dir, `packets/${item.packet_id}.json`, "fan-out packet");
  return readArtifact<Packet>(file, "packet", { expectDigest: item.digest }).value;
}

/**
 * The compiled run plus the fan-out item packets the journal names (state.fanouts), each
 * read from its file and checked against the digest the journal holds: what the scheduler
 * needs to place item packets (their dependencies) outside the run loop (`dwm next`).
 */
export function fanoutFrontierRun(
  dir: string,
  loaded: Pick<LoadedRun, "run" | "packets" | "gates">,
  state: RunState,
): FrontierRun {
  const packets = new Map(loaded.packets);
  for (const item of currentItems(state)) {
    if (!packets.has(item.packet_id)) packets.set(item.packet_id, readItemPacket(dir, item));
  }
  return { run: loaded.run, packets, gates: loaded.gates };
}

/** What one expansion attempt did, for the run loop's progress notes. */
export type ExpandResult =
  | { kind: "expanded"; items: number; added: number; dropped: number }
  | { kind: "gate"; gate_id: string; items: number }
  | { kind: "failed"; reason: string }
  | { kind: "wait"; reason: string };

/**
 * The run loop's view of a run with fan-outs (schema 0.6): the compiled packets plus
 * the item packets expanded so far (read back from their files, digest-checked against
 * the journal), and the steps that touch them: expansion, prompts, bindings and inputs.
 */
export class FanoutRun {
  /** Compiled packets and item packets, for the scheduler (FrontierRun). */
  readonly view: FrontierRun & { packets: Map<string, Packet> };
  private readonly digests = new Map<string, Digest>();
  private readonly prompts = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly loaded: LoadedRun,
    private readonly bindings: WorkerBindings,
    private readonly bindingsDigest: Digest,
  ) {
    this.view = { run: loaded.run, packets: new Map(loaded.packets), gates: loaded.gates };
    for (const e of loaded.run.packets) this.digests.set(e.packet_id, e.digest as Digest);
  }

  /** Read every current item packet the journal names (state.fanouts), each checked against its digest. */
  load(state: RunState): void {
    for (const item of currentItems(state)) {
      if (this.digests.get(item.packet_id) !== item.digest)
        this.add(readItemPacket(this.dir, item), item.digest as Digest);
    }
  }

  private add(p: Packet, d: Digest): void {
    this.view.packets.set(p.packet_id, p);
    this.digests.set(p.packet_id, d);
    this.prompts.delete(p.packet_id);
  }

  packet(id: string): Packet | undefined {
    return this.view.packets.get(id);
  }

  digest(id: string): Digest | undefined {
    return this.digests.get(id);
  }

  /** A compiled packet's prompt file; an item packet's prompt is rendered from it (same renderer). */
  prompt(id: string): string | undefined {
    const compiled = this.loaded.prompts.get(id);
    if (compiled !== undefined) return compiled;
    const p = this.view.packets.get(id);
    const d = this.digests.get(id);
    if (!p || !d) return undefined;
    let text = this.prompts.get(id);
    if (text === undefined) {
      text = renderPrompt(p, d);
      this.prompts.set(id, text);
    }
    return text;
  }

  binding(id: string): ReturnType<typeof resolveBinding> | undefined {
    const p = this.view.packets.get(id);
    return p ? resolveBinding(this.bindings, this.bindingsDigest, p) : undefined;
  }

  /** A registered handoff's bytes, checked against the digest its registration recorded. */
  private readHandoff(key: string, expected: string): Buffer {
    const bytes = fs.readFileSync(resolveInside(this.dir, `handoffs/${key}`, "handoff"));
    if (digestBytes(bytes) !== expected) {
      throw dispatcherErrors.create(
        "ERR_DISPATCH_EVIDENCE_MISSING",
        `handoffs/${key} does not match the digest its registration recorded`,
        { details: { artifact: key, expected } },
      );
    }
    return bytes;
  }

  /**
   * The handoff inputs of a packet: registered handoffs (an item packet's from its own
   * item's earlier phase, registered as `<item packet>/<artifact>`), a reduce packet's
   * input from a per-item phase as one list of every item's handoff (reduceList), and an
   * item packet's item as `fanout-item.json`. Every file is checked against the digest
   * its registration recorded.
   */
  inputs(packet: Packet, state: RunState): AttemptInput[] {
    const out: AttemptInput[] = [];
    for (const i of packet.inputs) {
      if (state.packets[i.from_packet]?.state === "expanded") out.push(this.reduceInput(packet, i, state));
      else {
        const input = this.handoffInput(i, state);
        if (input) out.push(input);
      }
    }
    if (packet.fanout?.role === "item")
      out.push(textInput(FANOUT_ITEM_INPUT, `${canonicalJson(packet.fanout.item)}\n`));
    return out;
  }

  /** A handoff input as registered; an item packet's own item's handoff is `<from item packet>/<artifact>`. */
  private handoffInput(i: Packet["inputs"][number], state: RunState): AttemptInput | null {
    const key = state.packets[i.from_packet]?.fanout_from ? `${i.from_packet}/${i.artifact}` : i.artifact;
    const h = state.handoffs[key];
    if (!h) return null;
    const bytes = this.readHandoff(key, h.digest);
    return { artifact: i.artifact, digest: h.digest, content_base64: bytes.toString("base64") };
  }

  /** A reduce packet's input from an expanded phase: every item's handoff, as one list. */
  private reduceInput(packet: Packet, i: Packet["inputs"][number], state: RunState): AttemptInput {
    const entries: ReduceEntry[] = [];
    for (const item of currentItems(state)) {
      if (item.template !== i.from_packet || !state.packets[item.packet_id]) continue;
      const key = `${item.packet_id}/${i.artifact}`;
      const h = state.handoffs[key];
      const p = this.view.packets.get(item.packet_id);
      if (!h || !p) {
        throw dispatcherErrors.create(
          "ERR_DISPATCH_EVIDENCE_MISSING",
          `${packet.packet_id} needs ${i.artifact} of every item of ${i.from_packet}; ${item.packet_id} registered none`,
          { details: { packet_id: packet.packet_id, item: item.packet_id, artifact: i.artifact } },
        );
      }
      entries.push({ packet: p, bytes: this.readHandoff(key, h.digest) });
    }
    return textInput(i.artifact, reduceList(entries));
  }

  /**
   * Expand the fan-out whose first per-item phase is `first` (the frontier lists it in
   * `expand`): read its source handoff, then either write the item packet files and
   * append fanout.expanded, open a fan-out limit gate naming the count, or fail the
   * fan-out with a coded reason. Waits (does nothing) while an item of an earlier
   * expansion is in flight.
   */
  expand(first: string, state: RunState, append: (drafts: EventDraft[]) => void): ExpandResult {
    const template = this.view.packets.get(first);
    const fo = template?.fanout;
    if (!template || fo?.role !== "template") return { kind: "wait", reason: `${first} is not a fan-out` };
    const busy = busyItem(state, first);
    if (busy) return { kind: "wait", reason: `item ${busy} of the previous expansion is still running` };
    const h = state.handoffs[fo.over];
    if (!h || h.from_packet !== fo.source_packet) {
      const reason = `ERR_INGEST_FANOUT_INVALID: ${fo.source_packet} completed without registering ${fo.over}, so fan-out ${first} has no items`;
      append([{ type: "packet.failed", data: { packet_id: first, reason } }]);
      return { kind: "failed", reason };
    }
    const source: FanoutSource = {
      artifact: fo.over,
      digest: h.digest as Digest,
      bytes: this.readHandoff(fo.over, h.digest),
    };
    const templates = fo.pipeline.map((id) => ({
      packet: this.loaded.packets.get(id) as Packet,
      digest: this.digests.get(id) as Digest,
    }));
    let x: FanoutExpansion = expandFanout({ state, templates, source });
    if (x.kind === "over-limit") {
      const limit = limitGateDecision(state, template, source, x.items);
      if (limit.kind === "wait") return limit;
      if (limit.kind === "open") {
        append([limit.draft]);
        return { kind: "gate", gate_id: limit.gate_id, items: x.items };
      }
      x = expandFanout({ state, templates, source, limitGate: limit.gate_id });
    }
    if (x.kind === "invalid") {
      append(x.events);
      return { kind: "failed", reason: x.reason };
    }
    if (x.kind !== "expanded") return { kind: "wait", reason: `unexpected ${x.kind}` };
    writeFanoutFiles(this.dir, x.files);
    append(x.events);
    this.take(x);
    return { kind: "expanded", items: x.items, added: x.files.length, dropped: x.dropped.length };
  }

  /** The view after an expansion: new or changed item packets in, dropped ones out. */
  private take(x: Extract<FanoutExpansion, { kind: "expanded" }>): void {
    const changed = new Set(x.files.map((f) => f.path));
    for (const p of x.packets) {
      if (changed.has(`packets/${p.packet.packet_id}.json`) || !this.view.packets.has(p.packet.packet_id))
        this.add(p.packet, p.digest);
    }
    for (const id of x.dropped) {
      this.view.packets.delete(id);
      this.digests.delete(id);
      this.prompts.delete(id);
    }
  }
}

/** Every item packet of every current expansion. */
function currentItems(state: RunState): FanoutItemState[] {
  return Object.values(state.fanouts ?? {}).flatMap((f) => f?.packets ?? []);
}

/** An input made of text DWM renders (a reduce list, a fan-out item). */
function textInput(artifact: string, text: string): AttemptInput {
  return { artifact, digest: digestBytes(text), content_base64: Buffer.from(text).toString("base64") };
}

/** An item of the fan-out's last expansion still in flight (an expansion waits for it), or undefined. */
export function busyItem(state: RunState, first: string): string | undefined {
  return (state.fanouts?.[first]?.packets ?? []).find((p) => {
    const s = state.packets[p.packet_id]?.state;
    return s === "dispatched" || s === "attempted";
  })?.packet_id;
}

/** What a fan-out over its item limit does: go on under an approved limit gate, wait for one, or open one. */
export type LimitGateDecision =
  | { kind: "approved"; gate_id: string }
  | { kind: "wait"; reason: string }
  | { kind: "open"; gate_id: string; draft: EventDraft };

/**
 * Decide a fan-out over its `max_items`: an approval of this exact limit gate (same count, same
 * source bytes: the same digest) lets every item through; the same gate open or closed is waited
 * for; otherwise (none yet, a changed list, or a rejection: asked again) the next gate
 * `fanout-limit/<first>/<k>` opens.
 */
export function limitGateDecision(
  state: RunState,
  template: Packet,
  source: FanoutSource,
  items: number,
): LimitGateDecision {
  const first = template.packet_id;
  let k = 1;
  for (; state.gates[`fanout-limit/${first}/${k}`]; k++) {
    const gs = state.gates[`fanout-limit/${first}/${k}`];
    const g = fanoutLimitGate(template, source, items, k);
    if (gs?.gate_digest !== digest(g)) continue;
    if (gs.state === "approved") return { kind: "approved", gate_id: g.gate_id };
    if (gs.state === "rejected") break;
    return { kind: "wait", reason: `${g.gate_id} is ${gs.state}` };
  }
  const g = fanoutLimitGate(template, source, items, k);
  return {
    kind: "open",
    gate_id: g.gate_id,
    draft: {
      type: "gate.opened",
      data: { gate_id: g.gate_id, gate_digest: digest(g), packets: g.packets, reason: g.trigger },
    },
  };
}

/** Run-time gates with no file: their category for the run outcome. */
export function runtimeGateCategory(gateId: string): "human-review" | null {
  return gateId.startsWith("merge-conflict/") ||
    gateId.startsWith("needs-human/") ||
    gateId.startsWith("fanout-limit/")
    ? "human-review"
    : null;
}
