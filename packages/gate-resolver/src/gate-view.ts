import type { Gate, GateState, RunState } from "@dwm/schemas";
import { gateResolverErrors } from "./errors.js";
import type { RunView } from "./types.js";

/** Gate sources that guard a risk before dispatch: these may be approved before the run reaches them. */
export const RISK_GATE_SOURCES: readonly Gate["source"][] = [
  "worker-permission",
  "surface",
  "plan-risk-gate",
];

/** One gate as the resolver sees it: its artifact (compile-time gates), its state, its current digest. */
export interface GateView {
  gate_id: string;
  /** The compiled gate artifact; null for a gate opened at run time (needs-human, merge conflict). */
  artifact: Gate | null;
  state: GateState;
  /** The digest an approval must name: the opened gate's, else run.json's index entry. */
  digest: string | null;
  /** A risk gate: approvable while still closed (operators approve `write` up front). */
  preapprovable: boolean;
  /** It holds work now: open, or a closed risk gate holding a packet whose dependencies are all completed. */
  waiting: boolean;
  /** Packets it holds: from its opening, else from the compiled gate. */
  packets: string[];
}

/** Look a gate up in the run and its state; ERR_GATE_UNKNOWN when neither knows it. */
export function gateView(state: RunState, run: RunView, gateId: string): GateView {
  const gs = state.gates[gateId];
  const artifact = run.gates.get(gateId) ?? null;
  if (!gs) {
    throw gateResolverErrors.create(
      "ERR_GATE_UNKNOWN",
      `run ${state.run_id} has no gate ${JSON.stringify(gateId)}`,
      {
        details: { run_id: state.run_id, gate_id: gateId, gates: Object.keys(state.gates).sort() },
      },
    );
  }
  const indexDigest = run.run.gates.find((g) => g.gate_id === gateId)?.digest ?? null;
  const preapprovable = artifact !== null && RISK_GATE_SOURCES.includes(artifact.source);
  const packets = gs.packets.length > 0 ? [...gs.packets] : [...(artifact?.packets ?? [])];
  const completed = (id: string) => state.packets[id]?.state === "completed";
  const deps = new Map(run.run.packets.map((p) => [p.packet_id, p.depends_on]));
  // A skipped packet is not waiting: the run went on without it (its gate's safe default is skip).
  const settled = (id: string) => completed(id) || state.packets[id]?.state === "skipped";
  const holdsReadyWork = packets.some((id) => !settled(id) && (deps.get(id) ?? []).every(completed));
  return {
    gate_id: gateId,
    artifact,
    state: gs,
    digest: gs.gate_digest ?? indexDigest,
    preapprovable,
    waiting: gs.state === "open" || (gs.state === "closed" && preapprovable && holdsReadyWork),
    packets,
  };
}
