import fs from "node:fs";
import path from "node:path";
import { digestBytes, resolveInside, writeFileAtomic } from "@dwm/core";
import type { RunState } from "@dwm/schemas";
import { rewrittenHandoff } from "./leftovers.js";

function readOrNull(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** The bytes an earlier attempt (1..before-1) of packet `id` recorded for `artifact` with digest `want`, from its evidence. */
function registeredBytes(
  runDir: string,
  id: string,
  before: number,
  artifact: string,
  want: string,
): Buffer | null {
  for (let n = before - 1; n >= 1; n--) {
    const dir = `attempts/${id}/${n}`;
    const record = readOrNull(path.join(runDir, dir, "attempt.json"));
    if (record === null) continue;
    let outputs: { artifact?: unknown; path?: unknown; digest?: unknown }[] = [];
    try {
      outputs = (JSON.parse(record.toString("utf8")) as { outputs?: typeof outputs }).outputs ?? [];
    } catch {
      continue;
    }
    const o = outputs.find((x) => x.artifact === artifact && x.digest === want && typeof x.path === "string");
    if (o === undefined) continue;
    const bytes = readOrNull(resolveInside(runDir, `${dir}/${o.path as string}`, "attempt output"));
    if (bytes !== null && digestBytes(bytes) === want) return bytes;
  }
  return null;
}

/**
 * Put back the registered copy of each handoff a killed runner's registration wrote over: a
 * reopened packet (attempted or reviewed again) whose new bytes went to handoffs/<artifact> before
 * the handoff.registered naming them (`rewrittenHandoff`). The bytes the journal names come from
 * the earlier attempt's own evidence. Then the packet's review or approval decides again: approved,
 * its registration copies the new bytes and journals them; anything else leaves the store as the
 * journal says, instead of a mismatch no later state explains. Returns the restored paths. Call
 * with the run lock held, after the store check passed.
 */
export function restoreRewrittenHandoffs(runDir: string, state: RunState): string[] {
  const named = new Set<string>();
  for (const [id, p] of Object.entries(state.packets)) {
    if (p?.state !== "attempted" && p?.state !== "reviewed") continue;
    named.add(`packets/${id}.json`);
    named.add(`attempts/${id}/${p.attempts}/attempt.json`);
  }
  const restored: string[] = [];
  for (const [artifact, h] of Object.entries(state.handoffs)) {
    const p = h ? state.packets[h.from_packet] : undefined;
    if (!h || !p || !named.has(`packets/${h.from_packet}.json`)) continue;
    const rel = `handoffs/${artifact}`;
    const file = resolveInside(runDir, rel, "handoff");
    const now = readOrNull(file);
    if (now === null || digestBytes(now) === h.digest) continue;
    if (rewrittenHandoff(runDir, rel, state, named) === null) continue;
    const old = registeredBytes(runDir, h.from_packet, p.attempts, artifact, h.digest);
    if (old === null) continue;
    writeFileAtomic(file, old);
    restored.push(rel);
  }
  return restored;
}
