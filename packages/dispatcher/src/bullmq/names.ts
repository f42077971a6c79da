import type { AttemptRequest, BackendName } from "@dwm/schemas";

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

export { attemptJobId } from "../queue.js";

/** Where a worker pushes the evidence commit of an attempt. */
export function evidenceRef(runId: string, packetId: string, attempt: number): string {
  return `refs/dwm/evidence/${runId}/${packetId}/${attempt}`;
}

/** The ref the coordinator pushes attempt bases to (the integration head; earlier bases are its ancestors). */
export function baseRef(runId: string): string {
  return `refs/dwm/${runId}/head`;
}
