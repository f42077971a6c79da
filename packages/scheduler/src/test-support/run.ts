import { digest } from "@dwm/core";
import type { Packet, Run } from "@dwm/schemas";

/** A compiled run naming `packets` (in this order) and `gates`, for the scheduler's tests. */
export function runOf(
  runId: string,
  packets: readonly Packet[],
  gates: readonly { gate_id: string }[] = [],
  planSchemaVersion = "0.5",
): Run {
  return {
    kind: "run",
    schema_version: "1",
    run_id: runId,
    plan_id: runId.replace(/-[0-9a-f]{12}$/, ""),
    plan_schema_version: planSchemaVersion,
    plan_digest: digest({ plan: 1 }),
    scorecard_digest: digest({ scorecard: 1 }),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: null,
    packets: packets.map((p) => ({
      packet_id: p.packet_id,
      digest: digest(p),
      prompt_digest: digest(p.packet_id),
      depends_on: p.depends_on,
    })),
    gates: gates.map((g) => ({ gate_id: g.gate_id, digest: digest(g) })),
    handoffs: [],
  } as Run;
}
