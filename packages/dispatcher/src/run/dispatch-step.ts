import { renderRepairPrompt, renderReworkPrompt } from "@dwm/reviewer";
import type {
  AttemptRequest,
  Dispatchable,
  Packet,
  PacketState,
  ResolvedBinding,
  RunState,
} from "@dwm/schemas";
import { type AttemptQueue, attemptJobId } from "../queue.js";
import type { RunContext } from "./context.js";
import type { Integrator } from "./integrator.js";
import { readRecordedAttempt, readReview } from "./store.js";

/** The reason packet.reopened gives a packet a rejection sent back (resolveGate writes it). */
const REWORK = /^gate (\S+) rejected: ([\s\S]*)$/;

/** The gate and reason of the rejection that sent a packet back, from its reopen reason. */
export function reworkOf(reason: string | null): { gate_id: string; reason: string } | null {
  const m = reason === null ? null : REWORK.exec(reason);
  return m ? { gate_id: m[1] as string, reason: m[2] as string } : null;
}

/** The backend a packet.dispatched names: a packet's own command runs on the shell; else its workers' backends joined. */
export function dispatchedBackend(packet: Packet, binding: ResolvedBinding): string {
  if (packet.command) return "shell";
  const backends = [...new Set(Object.values(binding.workers).map((w) => w?.backend ?? "shell"))];
  return backends.join("+") || "shell";
}

/**
 * What a repair or rework attempt is told about the attempt before it: the findings of the
 * last review (repair), or the gate's rejection (rework). Null for a first attempt or a retry.
 */
export function repairContext(dir: string, state: RunState, d: Dispatchable): string | null {
  const p: PacketState | undefined = state.packets[d.packet_id];
  if (!p) return null;
  if (d.kind === "repair" && p.attempts > 0) {
    const attempt = readRecordedAttempt(dir, d.packet_id, p.attempts);
    return renderRepairPrompt("", readReview(dir, d.packet_id, p.attempts), attempt).trim();
  }
  const rework = d.kind === "rework" ? reworkOf(p.reason) : null;
  return rework ? renderReworkPrompt("", rework).trim() : null;
}

/**
 * The dispatch step: each packet the frontier lets go (the scheduler already applied the
 * concurrency cap, the budget and the gates) becomes packet.dispatched — based on the
 * integration head, so it sees the upstream work — and then an attempt request in the queue.
 * The request is content, not paths: packet, prompt, binding, handoff inputs, repair context.
 */
export class DispatchStep {
  constructor(
    private readonly ctx: RunContext,
    private readonly integrator: Integrator,
    private readonly queue: AttemptQueue,
  ) {}

  dispatchAll(list: readonly Dispatchable[]): void {
    for (const d of list) this.dispatch(d);
  }

  private dispatch(d: Dispatchable): void {
    const { setup, log } = this.ctx;
    const { fan } = setup;
    const id = d.packet_id;
    const packet = fan.packet(id);
    const prompt = fan.prompt(id);
    const binding = setup.bindingOf.get(id) ?? fan.binding(id);
    const packetDigest = fan.digest(id);
    if (!packet || prompt === undefined || !binding || !packetDigest) return;
    const base = this.integrator.baseFor(packet);
    const request: AttemptRequest = {
      kind: "attempt-request",
      schema_version: "1",
      run_id: setup.runId,
      packet,
      prompt,
      attempt: d.attempt,
      base_commit: base,
      binding,
      inputs: fan.inputs(packet, log.state),
      repair_context: repairContext(setup.dir, log.state, d),
      repo: setup.repo,
      limits: setup.options.limits ?? {},
    };
    log.append([
      {
        type: "packet.dispatched",
        data: {
          packet_id: id,
          attempt: d.attempt,
          packet_digest: packetDigest,
          base_commit: base,
          backend: dispatchedBackend(packet, binding),
          ...(this.queue.origin ? { queue: this.queue.origin } : {}),
        },
      },
    ]);
    log.activity.attempts++;
    this.queue.enqueue({ job_id: attemptJobId(setup.runId, id, d.attempt), request });
  }
}
