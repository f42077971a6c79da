import { type Clock, digest } from "@dwm/core";
import { type CompiledGates, type EventDraft, gatesAfterReopen } from "@dwm/runtime";
import type { Approval, Approver, Review, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { gateResolverErrors } from "./errors.js";
import { type GateView, gateView } from "./gate-view.js";
import type { HandoffCopy, RunView } from "./types.js";

/** What resolving a gate needs besides the state and the approval. */
export interface GateContext {
  /** Where the approval file is (or will be) in the run store: approvals/<gate_id>/<n>.json. */
  approvalPath: string;
  /** sha256 of the approval file's bytes (the signed bundle), what the journal records in `files`. */
  approvalDigest: string;
  /**
   * The integration branch head now (the run's base commit while the branch does not exist;
   * null outside git). An approval shown another head is refused (ERR_GATE_HEAD_MOVED).
   */
  integrationHead: string | null;
  /** The review of the held packet's last attempt (human-gate phases and needs-human gates). */
  review?: Review | null;
}

/** The events to append, in order, and the handoff files to copy before appending them. */
export interface GateResolution {
  events: EventDraft[];
  copies: HandoffCopy[];
}

/** Where approval number n of a gate lives in the run store. */
export function approvalPath(gateId: string, n: number): string {
  return `approvals/${gateId}/${n}.json`;
}

/** Build an approval for the gate as it is now (its current digest). Checks everything resolveGate checks. */
export function buildApproval(
  state: RunState,
  run: RunView,
  input: {
    gateId: string;
    decision: Approval["decision"];
    reason?: string;
    packets?: readonly string[];
    approver: Approver;
    /** The operator key that will sign it. */
    keyId: string;
    /** The integration head the operator is shown (see GateContext.integrationHead). */
    integrationHead: string | null;
    /** Set when a policy decides (`dwm run --approve`, dwm.policy.json): which one. */
    policy?: string | null;
    clock: Clock;
  },
): Approval {
  const view = gateView(state, run, input.gateId);
  if (view.digest === null) {
    throw gateResolverErrors.create(
      "ERR_GATE_NOT_OPEN",
      `gate ${input.gateId} has no digest yet: it was never opened`,
      {
        details: { gate_id: input.gateId },
      },
    );
  }
  const approval: Approval = {
    kind: "approval",
    schema_version: "2",
    run_id: state.run_id,
    gate_id: input.gateId,
    gate_digest: view.digest as Approval["gate_digest"],
    integration_head: input.integrationHead,
    decision: input.decision,
    reason: (input.reason ?? "").trim(),
    packets: input.decision === "reject" ? [...new Set(input.packets ?? [])] : [],
    approver: input.approver,
    key_id: input.keyId,
    decided_by: input.policy ? "policy" : "operator",
    policy: input.policy ?? null,
    at: input.clock.now(),
  };
  checkApproval(state, approval, view, input.integrationHead);
  return approval;
}

/** A policy decides only risk gates, and only to approve: a person decides every other gate. */
function checkPolicy(approval: Approval, view: GateView): void {
  if (approval.decided_by !== "policy") return;
  if (!view.preapprovable || approval.decision !== "approve") {
    throw gateResolverErrors.create(
      "ERR_GATE_POLICY_NOT_ALLOWED",
      `gate ${approval.gate_id} (${view.artifact?.source ?? "runtime"}) cannot be ${approval.decision === "approve" ? "approved" : "rejected"} by a policy (${approval.policy ?? "unnamed"})`,
      { details: { gate_id: approval.gate_id, policy: approval.policy } },
    );
  }
}

/** The approval must have been shown the integration head as it is now: nobody committed since. */
function checkHead(approval: Approval, integrationHead: string | null): void {
  if (approval.integration_head === integrationHead) return;
  throw gateResolverErrors.create(
    "ERR_GATE_HEAD_MOVED",
    `the approval of gate ${approval.gate_id} was made at integration head ${approval.integration_head ?? "(none)"}; the head is now ${integrationHead ?? "(none)"}: something was committed after the decision`,
    {
      details: {
        gate_id: approval.gate_id,
        approval_head: approval.integration_head,
        integration_head: integrationHead,
      },
    },
  );
}

function checkApproval(
  state: RunState,
  approval: Approval,
  view: GateView,
  integrationHead: string | null,
): void {
  const v = validateSchema("approval", approval);
  if (!v.ok) {
    if (approval.decision === "reject" && approval.reason.trim() === "") {
      throw gateResolverErrors.create(
        "ERR_GATE_REASON_REQUIRED",
        `rejecting gate ${approval.gate_id} needs a reason`,
      );
    }
    throw gateResolverErrors.create(
      "ERR_GATE_APPROVAL_INVALID",
      "the approval does not match the approval schema",
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  if (approval.run_id !== state.run_id) {
    throw gateResolverErrors.create(
      "ERR_GATE_FOREIGN_RUN",
      `the approval is for run ${approval.run_id}, this is run ${state.run_id}`,
      { details: { approval_run: approval.run_id, run_id: state.run_id } },
    );
  }
  checkPolicy(approval, view);
  if (approval.gate_digest !== view.digest) {
    throw gateResolverErrors.create(
      "ERR_GATE_STALE_DIGEST",
      `the approval is for gate ${approval.gate_id} as ${approval.gate_digest}; the gate is now ${view.digest ?? "unopened"}`,
      {
        details: {
          gate_id: approval.gate_id,
          approval_digest: approval.gate_digest,
          gate_digest: view.digest,
        },
      },
    );
  }
  checkHead(approval, integrationHead);
  const s = view.state.state;
  if (s === "approved") {
    throw gateResolverErrors.create(
      "ERR_GATE_ALREADY_DECIDED",
      `gate ${approval.gate_id} is already approved`,
      {
        details: { gate_id: approval.gate_id, approval_digest: view.state.approval_digest },
      },
    );
  }
  if (s === "rejected") {
    throw gateResolverErrors.create(
      "ERR_GATE_NOT_OPEN",
      `gate ${approval.gate_id} was rejected; it is asked again once the reworked packets have completed again`,
      { details: { gate_id: approval.gate_id, gate_state: s } },
    );
  }
  if (s === "superseded") {
    throw gateResolverErrors.create(
      "ERR_GATE_NOT_OPEN",
      `gate ${approval.gate_id} was superseded: ${view.state.reason ?? "the packets it held run again"}; nothing is asked any more`,
      { details: { gate_id: approval.gate_id, gate_state: s } },
    );
  }
  if (s === "closed" && !view.preapprovable) {
    throw gateResolverErrors.create(
      "ERR_GATE_NOT_OPEN",
      `gate ${approval.gate_id} (${view.artifact?.source ?? "runtime"}) is not open yet; human gates are decided once the run reaches them`,
      { details: { gate_id: approval.gate_id, gate_state: s } },
    );
  }
  for (const id of approval.packets) {
    if (!state.packets[id]) {
      throw gateResolverErrors.create(
        "ERR_GATE_PACKET_UNKNOWN",
        `run ${state.run_id} has no packet ${JSON.stringify(id)}`,
        {
          details: { packet_id: id },
        },
      );
    }
  }
}

const inFlight = (s: string) => s === "dispatched" || s === "attempted";

/** Packets whose work must be redone: the named ones, and every completed packet downstream of them. */
function reworkClosure(state: RunState, run: RunView, named: readonly string[]): string[] {
  const dependents = new Map<string, string[]>();
  for (const p of run.run.packets) {
    for (const d of p.depends_on) dependents.set(d, [...(dependents.get(d) ?? []), p.packet_id]);
  }
  for (const [id, p] of run.packets) {
    for (const d of p.depends_on) {
      const list = dependents.get(d) ?? [];
      if (!list.includes(id)) dependents.set(d, [...list, id]);
    }
  }
  const out = new Set<string>(named);
  const queue = [...named];
  while (queue.length) {
    const id = queue.shift() as string;
    for (const next of dependents.get(id) ?? []) {
      const st = state.packets[next]?.state;
      if (st === undefined || st === "pending" || out.has(next)) continue;
      out.add(next);
      queue.push(next);
    }
  }
  const order = Object.keys(state.packets);
  return [...out].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** The approval file as journal events name it: run-relative path, raw-bytes digest. */
type FileRef = { path: string; digest: string };

/**
 * The packets a rejection sends back: those the approval names (else, for a gate that
 * completes its packets, the packets it holds) and every packet downstream of them that
 * had moved on. ERR_GATE_PACKET_IN_FLIGHT when one of them is in flight.
 */
export function packetsToReopen(state: RunState, run: RunView, approval: Approval, view: GateView): string[] {
  const named = approval.packets.length > 0 ? approval.packets : completesPackets(view) ? view.packets : [];
  const reopen = reworkClosure(state, run, named);
  for (const id of reopen) {
    const st = state.packets[id]?.state ?? "pending";
    if (inFlight(st)) {
      throw gateResolverErrors.create(
        "ERR_GATE_PACKET_IN_FLIGHT",
        `packet ${id} is ${st}: it cannot be sent back now`,
        {
          details: { packet_id: id, state: st },
        },
      );
    }
  }
  return reopen;
}

/** A reviewed attempt's completion: its handoffs copied and registered, then packet.completed. */
function reviewedCompletion(id: string, review: Review): GateResolution {
  const events: EventDraft[] = [];
  const copies: HandoffCopy[] = [];
  for (const h of review.handoffs) {
    const to = `handoffs/${h.artifact}`;
    copies.push({
      artifact: h.artifact,
      from: `attempts/${id}/${review.attempt}/${h.path}`,
      to,
      digest: h.digest,
    });
    events.push({
      type: "handoff.registered",
      data: {
        artifact: h.artifact,
        from_packet: id,
        digest: h.digest,
        files: [{ path: to, digest: h.digest }],
      },
    });
  }
  events.push({
    type: "packet.completed",
    data: {
      packet_id: id,
      attempt: review.attempt,
      ...(review.branch ? { branch: review.branch } : {}),
      ...(review.head_commit ? { commit: review.head_commit } : {}),
    },
  });
  return { events, copies };
}

/**
 * How approving gate `gateId` completes packet `id` it holds: nothing for a packet that is
 * unknown or already completed; packet.completed of attempt 0 for one that never ran;
 * else by the review of its last attempt (`review` must be that one:
 * ERR_GATE_REVIEW_REQUIRED). ERR_GATE_PACKET_IN_FLIGHT while an attempt runs.
 */
export function completionOnApproval(
  state: RunState,
  gateId: string,
  id: string,
  review: Review | null,
): GateResolution {
  const p = state.packets[id];
  if (!p || p.state === "completed") return { events: [], copies: [] };
  if (inFlight(p.state)) {
    throw gateResolverErrors.create(
      "ERR_GATE_PACKET_IN_FLIGHT",
      `packet ${id} is ${p.state}: it cannot be completed now`,
      {
        details: { packet_id: id, state: p.state },
      },
    );
  }
  if (p.attempts === 0) {
    return { events: [{ type: "packet.completed", data: { packet_id: id, attempt: 0 } }], copies: [] };
  }
  if (!review || review.packet_id !== id || review.attempt !== p.attempts || review.run_id !== state.run_id) {
    throw gateResolverErrors.create(
      "ERR_GATE_REVIEW_REQUIRED",
      `approving gate ${gateId} completes packet ${id} with attempt ${p.attempts}; its review is needed`,
      {
        details: {
          packet_id: id,
          attempt: p.attempts,
          given: review ? `${review.packet_id}#${review.attempt}` : null,
        },
      },
    );
  }
  return reviewedCompletion(id, review);
}

/** Reject: gate.rejected naming the packets sent back, packet.reopened for each, then the other gates that judged them asked again (gatesAfterReopen). */
function rejection(
  state: RunState,
  approval: Approval,
  run: RunView,
  view: GateView,
  fileRef: FileRef,
): GateResolution {
  const reopen = packetsToReopen(state, run, approval, view);
  const events: EventDraft[] = [
    {
      type: "gate.rejected",
      data: {
        gate_id: approval.gate_id,
        gate_digest: approval.gate_digest,
        approval_digest: digest(approval),
        packets: reopen,
        files: [fileRef],
      },
    },
  ];
  for (const id of reopen) {
    events.push({
      type: "packet.reopened",
      data: { packet_id: id, reason: `gate ${approval.gate_id} rejected: ${approval.reason}` },
    });
  }
  // Other gates that judged the work sent back (a human gate downstream) are asked again.
  const cause = {
    reason: `gate ${approval.gate_id} rejected`,
    detail: { rejected: approval.gate_id, approval_digest: digest(approval) },
    changed: [],
  };
  events.push(...gatesAfterReopen(state, compiledGates(run), reopen, cause, [approval.gate_id]));
  return { events, copies: [] };
}

/** The compiled gates of the run, as gatesAfterReopen reads them. */
function compiledGates(run: RunView): CompiledGates {
  return new Map([...run.gates].map(([id, g]) => [id, { packets: g.packets, source: g.source }]));
}

/** Approve: gate.approved, then (for a gate that completes its packets) each held packet's completion. */
function approvalOf(
  state: RunState,
  approval: Approval,
  view: GateView,
  context: GateContext,
  fileRef: FileRef,
): GateResolution {
  const events: EventDraft[] = [
    {
      type: "gate.approved",
      data: {
        gate_id: approval.gate_id,
        gate_digest: approval.gate_digest,
        approval_digest: digest(approval),
        files: [fileRef],
      },
    },
  ];
  const copies: HandoffCopy[] = [];
  if (!completesPackets(view)) return { events, copies };
  for (const id of view.packets) {
    const done = completionOnApproval(state, approval.gate_id, id, context.review ?? null);
    events.push(...done.events);
    copies.push(...done.copies);
  }
  return { events, copies };
}

/**
 * Turn an operator's decision into journal drafts. Approve: `gate.approved`, and for a
 * gate that completes its packets (human-gate phase, needs-human review) the handoffs
 * of the reviewed attempt and `packet.completed`. Reject: `gate.rejected` and
 * `packet.reopened` for every named packet and every packet downstream of them that
 * had moved on; the gate is asked again (gate.opened) once they complete again.
 * Pure: refuses with a coded error, writes nothing.
 */
export function resolveGate(
  state: RunState,
  approval: Approval,
  run: RunView,
  context: GateContext,
): GateResolution {
  const view = gateView(state, run, approval.gate_id);
  checkApproval(state, approval, view, context.integrationHead);
  const fileRef: FileRef = { path: context.approvalPath, digest: context.approvalDigest };
  return approval.decision === "reject"
    ? rejection(state, approval, run, view, fileRef)
    : approvalOf(state, approval, view, context, fileRef);
}

/** Gates whose approval completes the packets they hold: human-gate phases and gates opened at run time for a review. */
export function completesPackets(view: GateView): boolean {
  if (view.artifact) return view.artifact.source === "human-gate-phase";
  return view.packets.length > 0;
}
