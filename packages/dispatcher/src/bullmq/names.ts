import { packetRefPath } from "@dwm/core";
import { attemptRef, runRefPrefix as runRefs } from "@dwm/executor";
import type { AttemptRequest, BackendName } from "@dwm/schemas";
import type { RunIdentity } from "../run-identity.js";

/** Backend names in a fixed order (lanes list them sorted by name). */
export const QUEUE_BACKENDS: readonly BackendName[] = ["claude", "codex", "command", "dry-run", "shell"];

/** Default BullMQ key prefix of DWM's queues. */
export const DEFAULT_QUEUE_PREFIX = "dwm";

/** The backends an attempt needs: a packet's own command runs on the shell backend. */
export function backendsOf(request: AttemptRequest): BackendName[] {
  if (request.packet.command !== undefined) return ["shell"];
  const out = new Set<BackendName>();
  for (const w of request.packet.workers) {
    const b = request.binding.workers[w.id] ?? request.binding.workers["*"];
    out.add(b?.backend ?? "shell");
  }
  if (out.size === 0) out.add("shell");
  return [...out].sort();
}

/** The lane (queue) of an attempt: its backends, sorted, joined with `+`. */
export function laneOf(request: AttemptRequest): string {
  return backendsOf(request).join("+");
}

/** Every lane a worker with these backends can serve: each non-empty subset. */
export function lanesFor(backends: readonly BackendName[]): string[] {
  const list = [...new Set(backends)].sort();
  const out: string[] = [];
  for (let mask = 1; mask < 1 << list.length; mask++) {
    out.push(list.filter((_, i) => mask & (1 << i)).join("+"));
  }
  return out.sort();
}

/** BullMQ queue name of a lane. */
export function laneQueueName(lane: string): string {
  return `attempts.${lane}`;
}

/** The BullMQ job id of an attempt: `<run>/<instance>/<packet>/<n>` (two run instances never share one). */
export function jobIdOf(run: RunIdentity, packetId: string, attempt: number): string {
  return `${run.runId}/${run.instance}/${packetId}/${attempt}`;
}

// Ref names spell run and packet ids as the executor's attempt refs do (core's packetRefPath).
const attemptPath = (packetId: string, attempt: number) => `${packetRefPath(packetId)}/${attempt}`;

/** Where every ref a run instance puts on the remote lives: `refs/dwm/<run>/<instance>/`. */
export function runRefPrefix(run: RunIdentity): string {
  return `${runRefs(run.runId)}${run.instance}/`;
}

/** The ref the coordinator pushes attempt bases to (the integration head; earlier bases are its ancestors). */
export function baseRef(run: RunIdentity): string {
  return `${runRefPrefix(run)}head`;
}

/** Where a worker pushes the evidence commit of an attempt: `refs/dwm/<run>/<instance>/evidence/<packet>/<n>`. */
export function evidenceRef(run: RunIdentity, packetId: string, attempt: number): string {
  return `${runRefPrefix(run)}evidence/${attemptPath(packetId, attempt)}`;
}

/** Where a worker pushes the attempt's work (its branch head): `refs/dwm/<run>/<instance>/work/<packet>/<n>`. */
export function workRef(run: RunIdentity, packetId: string, attempt: number): string {
  return `${runRefPrefix(run)}work/${attemptPath(packetId, attempt)}`;
}

/**
 * The attempt's ref, in a worker's clone and in the coordinator's repository:
 * `refs/dwm/<run>/attempts/<instance>/<packet>/<n>` (attemptRef with the run instance).
 */
export function queuedAttemptBranch(run: RunIdentity, packetId: string, attempt: number): string {
  return attemptRef(run.runId, packetId, attempt, run.instance);
}
