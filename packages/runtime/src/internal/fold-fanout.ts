// fanout.expanded in the fold: checks first (templates, items, drops), then the changes.
import type { PacketState, RunState } from "@dwm/schemas";
import type { EventOf } from "../events.js";
import { expectState, IN_FLIGHT, illegal, newPacket, packetOf } from "./fold-base.js";

type FanoutEvent = EventOf<"fanout.expanded">;
type ListedItem = FanoutEvent["data"]["packets"][number];
/** The previous expansion's item packets: id → { digest }. */
type Before = ReadonlyMap<string, { digest: string }>;

/**
 * What an expansion does to one listed item packet: `add` a new one, `reset` one whose
 * digest changed (its template changed) to pending, or `keep` it as it is (same digest:
 * a completed item never runs again).
 */
export function itemChange(
  existing: PacketState | undefined,
  old: { digest: string } | undefined,
  item: { digest: string },
): "add" | "reset" | "keep" {
  if (!existing) return "add";
  return old && old.digest !== item.digest ? "reset" : "keep";
}

/** Item packets of the previous expansion that the new one does not list, in their previous order. */
export function droppedItems(before: Before, listed: readonly { packet_id: string }[]): string[] {
  const ids = new Set(listed.map((x) => x.packet_id));
  return [...before.keys()].filter((id) => !ids.has(id));
}

function checkTemplates(state: RunState, ev: FanoutEvent): void {
  const d = ev.data;
  packetOf(state, ev, d.from_packet);
  if (!d.templates.includes(d.first)) illegal(ev, `templates do not include the fan-out ${d.first}`);
  for (const t of d.templates) {
    const p = packetOf(state, ev, t);
    if (p.fanout_from !== null) illegal(ev, `template ${t} is itself an item packet`, { packet_id: t });
    expectState(ev, t, p, ["pending", "expanded", "failed"]);
  }
}

function checkItems(state: RunState, ev: FanoutEvent, before: Before): void {
  const d = ev.data;
  const listed = new Set<string>();
  for (const item of d.packets) {
    if (listed.has(item.packet_id)) illegal(ev, `item packet ${item.packet_id} is listed twice`);
    listed.add(item.packet_id);
    if (!d.templates.includes(item.template))
      illegal(ev, `item packet ${item.packet_id} names template ${item.template}, not one of this fan-out`);
    const existing = state.packets[item.packet_id];
    const old = before.get(item.packet_id);
    if (existing && !old)
      illegal(ev, `packet ${item.packet_id} already exists`, { packet_id: item.packet_id });
    if (existing && old && old.digest !== item.digest && IN_FLIGHT.includes(existing.state))
      illegal(ev, `item packet ${item.packet_id} changed while in flight`, { packet_id: item.packet_id });
  }
}

function checkDropped(state: RunState, ev: FanoutEvent, dropped: readonly string[]): void {
  const d = ev.data;
  if (dropped.length !== d.dropped.length || dropped.some((id, i) => d.dropped[i] !== id))
    illegal(
      ev,
      `dropped lists ${d.dropped.join(", ") || "nothing"}, the previous expansion leaves ${dropped.join(", ") || "nothing"}`,
    );
  for (const id of dropped) {
    const p = state.packets[id];
    if (p && IN_FLIGHT.includes(p.state)) illegal(ev, `item packet ${id} is in flight; it cannot be dropped`);
  }
}

function applyItem(state: RunState, ev: FanoutEvent, item: ListedItem, before: Before): void {
  const existing = state.packets[item.packet_id];
  const change = itemChange(existing, before.get(item.packet_id), item);
  if (change === "add") {
    state.packets[item.packet_id] = { ...newPacket(item.template), seq: ev.seq };
  } else if (change === "reset") {
    Object.assign(existing as PacketState, {
      state: "pending",
      reopens: (existing as PacketState).reopens + 1,
      repairs: 0,
      reason: `fan-out ${ev.data.first} expanded again: the item packet changed`,
      branch: null,
      commit: null,
      merged_commit: null,
      conflict_gate: null,
      seq: ev.seq,
    });
  }
}

function recordExpansion(state: RunState, ev: FanoutEvent, dropped: readonly string[]): void {
  const d = ev.data;
  const prev = state.fanouts?.[d.first];
  state.fanouts ??= {};
  state.fanouts[d.first] = {
    source_packet: d.from_packet,
    templates: [...d.templates],
    handoff_digest: d.handoff.digest,
    items: d.handoff.items,
    packets: d.packets.map((x) => ({ packet_id: x.packet_id, template: x.template, digest: x.digest })),
    dropped: [...(prev?.dropped ?? []), ...dropped],
    seq: ev.seq,
  };
}

/**
 * fanout.expanded: the templates become `expanded`; each listed item packet is added
 * (new), kept as it is (same digest: a completed item never runs again) or sent back
 * to pending (same id, new digest: its template changed); item packets of the previous
 * expansion that are not listed are dropped (they must be exactly `data.dropped`).
 */
export function applyFanout(state: RunState, ev: FanoutEvent): void {
  const d = ev.data;
  const before: Before = new Map((state.fanouts?.[d.first]?.packets ?? []).map((x) => [x.packet_id, x]));
  checkTemplates(state, ev);
  checkItems(state, ev, before);
  const dropped = droppedItems(before, d.packets);
  checkDropped(state, ev, dropped);

  for (const id of dropped) delete state.packets[id];
  for (const item of d.packets) applyItem(state, ev, item, before);
  for (const t of d.templates)
    Object.assign(state.packets[t] as PacketState, { state: "expanded", reason: null, seq: ev.seq });
  recordExpansion(state, ev, dropped);
  state.completed = false;
}
