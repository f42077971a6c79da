// Runs and states built by hand for tests of the fold and the journal's opening events: a run.json
// value with fake digests, its run.opened draft, and a state whose packets and gates are set directly.
import { type Digest, digest } from "@dwm/core";
import type { GateState, PacketState, Run, RunState } from "@dwm/schemas";
import type { EventDraft } from "../events.js";
import { initialState } from "../fold.js";
import { newGate, newPacket } from "../internal/fold-base.js";

/** A fake sha256 digest numbered `n` (64 hex digits). */
export const D = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;

/** Packet entries of run.json for `ids`: digests D(10 + i), prompt digests D(20 + i), no dependencies. */
export function packetEntries(ids: readonly string[]): Run["packets"] {
  return ids.map((id, i) => ({ packet_id: id, digest: D(10 + i), prompt_digest: D(20 + i), depends_on: [] }));
}

/** A run.json value of run demo-0123456789ab (plan D(1), scorecard D(2), revision 1); no packets or gates unless given. */
export function testRun(parts: Partial<Pick<Run, "packets" | "gates">> = {}): Run {
  return {
    kind: "run",
    schema_version: "1",
    run_id: "demo-0123456789ab",
    plan_id: "demo",
    plan_schema_version: "0.6",
    plan_digest: D(1),
    scorecard_digest: D(2),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: null,
    packets: parts.packets ?? [],
    gates: parts.gates ?? [],
    handoffs: [],
  };
}

/** The run.opened draft of `run` (its packets and gates by id), with `extra` data (instance, branch). */
export function runOpened(run: Run, extra: Record<string, unknown> = {}): EventDraft {
  return {
    type: "run.opened",
    data: {
      run_digest: digest(run),
      plan_digest: run.plan_digest,
      revision: run.revision,
      packets: run.packets.map((p) => p.packet_id),
      gates: run.gates.map((g) => g.gate_id),
      ...extra,
    },
  } as EventDraft;
}

/** The initial state of an empty testRun() with these packets and gates set over new ones. */
export function stateWith(
  packets: Record<string, Partial<PacketState>> = {},
  gates: Record<string, Partial<GateState>> = {},
): RunState {
  const s = initialState(testRun());
  for (const [id, p] of Object.entries(packets)) s.packets[id] = { ...newPacket(), ...p };
  for (const [id, g] of Object.entries(gates)) s.gates[id] = { ...newGate(), ...g };
  return s;
}
