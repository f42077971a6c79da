import type { Gate, Packet, Run } from "@dwm/schemas";

/** What the gate-resolver needs of a loaded run (a subset of the compiler's LoadedRun). */
export interface RunView {
  run: Run;
  packets: ReadonlyMap<string, Packet>;
  gates: ReadonlyMap<string, Gate>;
}

/**
 * A handoff file to copy before the events that name it are appended:
 * run-relative `from` (the attempt's copy) → `to` (handoffs/<artifact>), raw-bytes digest.
 */
export interface HandoffCopy {
  artifact: string;
  from: string;
  to: string;
  digest: string;
}
