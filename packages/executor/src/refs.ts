// Every git ref DWM makes is named here, so the executor (which brings an attempt's work into
// the repository), the run loop (which merges it) and the distributed queue (which moves it
// between machines) agree. Attempt refs live under `refs/dwm/<run>/`, outside `refs/heads/`:
// a fan-out of thousands of items leaves no branch per item in the user's repository, only
// the run's integration branch, which is where the user looks for the result.

import { packetRefPath, refSegment } from "@dwm/core";

/** `refs/dwm/<run>/`: where every ref DWM makes for a run's attempts lives (the integration branch aside). */
export function runRefPrefix(runId: string): string {
  return `refs/dwm/${refSegment(runId)}/`;
}

/**
 * The ref that keeps an attempt's work: `refs/dwm/<run>/attempts/<packet>/<attempt>`, or with a
 * run instance (a distributed queue's coordinator), `refs/dwm/<run>/attempts/<instance>/<packet>/<attempt>`:
 * outside `refs/dwm/<run>/<instance>/`, which holds what the instance puts on a shared remote and
 * is removed from it when the run completes. `attempt` is the attempt number, or a label such as
 * `exec-1` for attempts run by hand.
 */
export function attemptRef(
  runId: string,
  packetId: string,
  attempt: number | string,
  instance?: string,
): string {
  const scope = instance === undefined ? "" : `${instance}/`;
  return `${runRefPrefix(runId)}attempts/${scope}${packetRefPath(packetId)}/${attempt}`;
}

/** `dwm/<run>/integration`: the branch completed packets are merged into, the one a run leaves among the user's branches. */
export function integrationBranch(runId: string): string {
  return `dwm/${refSegment(runId)}/integration`;
}

/**
 * The full name of an attempt's ref as an attempt records it: a `refs/…` name as it is; a bare
 * name (an attempt branch of an earlier version, `dwm/<run>/<packet>/<n>`) under `refs/heads/`.
 */
export function qualifiedRef(name: string): string {
  return name.startsWith("refs/") ? name : `refs/heads/${name}`;
}
