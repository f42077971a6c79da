import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type LoadedRun, loadRun } from "@dwm/compiler";
import { fanoutFrontierRun } from "@dwm/dispatcher";
import { foldJournal, LOCK_FILE, readJournal } from "@dwm/runtime";
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

/** A runner's lease on the run lock. */
export interface LockHolder {
  pid: number;
  host: string;
  expires_at: string;
}

/**
 * A live runner's lease, if one holds the run's lock now: what `dwm run` would be refused for
 * (the rule of @dwm/core's acquireLock: a lease is stale when its process is dead on this
 * host, or it expired on another host).
 */
export function liveHolder(runDir: string, now: string): LockHolder | null {
  let info: LockHolder;
  try {
    info = JSON.parse(fs.readFileSync(path.join(runDir, LOCK_FILE), "utf8")) as LockHolder;
  } catch {
    return null;
  }
  if (typeof info.pid !== "number" || info.pid === -1) return null;
  const here = info.host === os.hostname();
  const expired = !(Date.parse(info.expires_at) > Date.parse(now));
  if (here ? !alive(info.pid) : expired) return null;
  return info;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
