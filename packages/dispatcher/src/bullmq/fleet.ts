import type { Clock } from "@dwm/core";
import type { WorkerList, WorkerPresence } from "@dwm/schemas";
import { Redis } from "ioredis";
import { parseQueueUrl, type QueueTlsFiles } from "./connection.js";
import type { Heartbeat } from "./heartbeat.js";
import { DEFAULT_QUEUE_PREFIX } from "./names.js";

export interface ListWorkersOptions {
  url: string;
  tls?: QueueTlsFiles;
  prefix?: string;
  clock: Clock;
}

/** A glob pattern matching `text` literally (Redis SCAN MATCH). */
function literal(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * BullMQ's worker registry, from `CLIENT LIST`: a Worker names its connections
 * `<prefix>:<base64 of its queue name>:w:<worker name>` (Queue.getWorkers reads the same names).
 * Returns worker name → the lanes it holds a connection on.
 */
export function registryOf(clientList: string, prefix: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of clientList.split(/\r?\n/)) {
    const name = /(?:^| )name=(\S+)/.exec(line)?.[1];
    if (name === undefined || !name.startsWith(`${prefix}:`)) continue;
    const rest = name.slice(prefix.length + 1);
    const at = rest.indexOf(":w:");
    if (at < 0) continue;
    const queue = Buffer.from(rest.slice(0, at), "base64").toString("utf8");
    if (!queue.startsWith("attempts.")) continue;
    const worker = rest.slice(at + 3);
    const lanes = out.get(worker) ?? new Set<string>();
    lanes.add(queue.slice("attempts.".length));
    out.set(worker, lanes);
  }
  return out;
}

/** A heartbeat as stored, or null when it is not one (another tool's key). */
function heartbeatOf(raw: string | null): Heartbeat | null {
  if (raw === null) return null;
  try {
    const h = JSON.parse(raw) as Heartbeat;
    return typeof h.name === "string" && Array.isArray(h.running) ? h : null;
  } catch {
    return null;
  }
}

/** Join heartbeats and the registry: one entry per worker name, sorted by name. */
export function joinWorkers(
  beats: readonly Heartbeat[],
  registry: ReadonlyMap<string, ReadonlySet<string>>,
): WorkerPresence[] {
  const byName = new Map<string, WorkerPresence>();
  for (const h of beats) {
    byName.set(h.name, { ...h, registered_lanes: [...(registry.get(h.name) ?? [])].sort() });
  }
  for (const [name, lanes] of registry) {
    if (byName.has(name)) continue;
    byName.set(name, {
      name,
      host: null,
      pid: null,
      backends: [],
      concurrency: null,
      running: [],
      started_at: null,
      heartbeat_at: null,
      registered_lanes: [...lanes].sort(),
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `dwm workers`: the live workers of a fleet, from the heartbeats workers keep in Redis (who they
 * are, what they run) and BullMQ's own registry of worker connections (which lanes they listen
 * on). A worker that died disappears from the registry at once and its heartbeat expires after
 * three missed refreshes.
 */
export async function listWorkers(o: ListWorkersOptions): Promise<WorkerList> {
  const url = parseQueueUrl(o.url, o.tls);
  const prefix = o.prefix ?? DEFAULT_QUEUE_PREFIX;
  const client = new Redis({ ...url.options, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${literal(prefix)}:worker:*`, "COUNT", 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const raw = keys.length > 0 ? await client.mget(...keys) : [];
    const beats = raw.map(heartbeatOf).filter((h): h is Heartbeat => h !== null);
    // An ACL user without CLIENT LIST still sees the heartbeats; the registry is then empty.
    const list = await client.call("CLIENT", "LIST").then(String, (e: Error) => {
      if (/NOPERM/i.test(e.message)) return "";
      throw e;
    });
    return {
      kind: "worker-list",
      schema_version: "1",
      queue: url.redacted,
      prefix,
      at: o.clock.now(),
      workers: joinWorkers(beats, registryOf(list, prefix)),
    };
  } finally {
    client.disconnect();
  }
}
