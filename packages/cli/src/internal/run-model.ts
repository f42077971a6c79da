import { type LoadedRun, loadRun } from "@dwm/compiler";
import { fanoutFrontierRun } from "@dwm/dispatcher";
import { foldJournal, readJournal } from "@dwm/runtime";
import type { JournalEvent, Packet, RunState } from "@dwm/schemas";

/** A run read for the operator's views: the verified compile, the journal, its fold, every packet (fan-out items too). */
export interface RunModel {
  loaded: LoadedRun;
  events: JournalEvent[];
  state: RunState;
  /** Compiled packets, then fan-out item packets, by id. */
  packets: ReadonlyMap<string, Packet>;
}

/** Read a run (throws a DwmError when it cannot be read: `dwm verify` says why). */
export function readRunModel(runDir: string): RunModel {
  const loaded = loadRun(runDir);
  const events = readJournal(runDir).events;
  const state = foldJournal(events, loaded.run);
  const packets = fanoutFrontierRun(runDir, loaded, state).packets;
  return { loaded, events, state, packets };
}

/** Each packet's dependencies: compiled ones, and a fan-out item's from its expansion event. */
export function dependencyMap(model: RunModel): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const [id, p] of model.packets) deps.set(id, [...p.depends_on]);
  for (const e of model.events) {
    if (e.type !== "fanout.expanded") continue;
    for (const item of e.data.packets) deps.set(item.packet_id, item.depends_on);
  }
  return deps;
}
