import fs from "node:fs";
import type { LoadedRun } from "@dwm/compiler";
import { type Clock, isDwmError, resolveInside } from "@dwm/core";
import {
  loadGateReview,
  type PendingApproval,
  pendingApprovals,
  policyApprovals,
  resolveGate,
  writeApproval,
} from "@dwm/gate-resolver";
import { registerHandoffs } from "@dwm/ingester";
import type { Approval, ApprovalPolicy, JournalEvent, RunState } from "@dwm/schemas";
import type { RunContext } from "./context.js";
import type { EventObserver } from "./run-log.js";
import type { RunWorkflowOptions } from "./types.js";

/** How often the loop looks for approvals `dwm approve` wrote while it runs. */
const ABSORB_EVERY_MS = 250;

/**
 * The approvals the operator gave with the run itself, in the order they are recorded: the
 * `--approve` categories first (recorded as the operator's), then the policy file. One per
 * gate; gates already decided are left alone. Only risk gates (policyApprovals).
 */
export function operatorApprovals(
  state: RunState,
  loaded: LoadedRun,
  options: Pick<RunWorkflowOptions, "approve" | "policy">,
  clock: Clock,
): Approval[] {
  const lists: Approval[][] = [];
  if (options.approve && options.approve.categories.length > 0) {
    const { approver, categories } = options.approve;
    const asPolicy: ApprovalPolicy = {
      kind: "approval-policy",
      schema_version: "1",
      approve: [...categories] as ApprovalPolicy["approve"],
    };
    lists.push(
      policyApprovals(state, loaded, asPolicy, { clock, policyName: "dwm run --approve" }).map((a) => ({
        ...a,
        approver,
        reason: `approved by the operator with dwm run --approve ${categories.join(",")}`,
      })),
    );
  }
  if (options.policy) {
    lists.push(
      policyApprovals(state, loaded, options.policy.policy, { clock, policyName: options.policy.name }),
    );
  }
  const out = new Map<string, Approval>();
  for (const a of lists.flat()) {
    const g = state.gates[a.gate_id];
    if (out.has(a.gate_id) || g?.state === "approved" || g?.state === "rejected") continue;
    out.set(a.gate_id, a);
  }
  return [...out.values()];
}

/**
 * Whether a gate may only be approved once it is open: a human-gate phase's gate and a gate
 * opened at run time (no compiled gate). Risk gates may be approved in advance.
 */
export function approvableOnlyOnceOpen(source: string | undefined): boolean {
  return source === undefined || source === "human-gate-phase";
}

/**
 * The approval desk: the one place an approval is counted. It journals the operator's
 * approvals given with the run (`--approve`, the policy file) and those `dwm approve` wrote
 * while this runner holds the lock, each checked again against the gate first; and it refuses
 * an approval that was there before its gate opened (a worker could have planted it).
 */
export class ApprovalDesk implements EventObserver {
  // gate.approved/rejected events: pendingApprovals tells the approval files they name from the others.
  private readonly decisions: JournalEvent[] = [];
  private lastCheck = 0;

  constructor(private readonly ctx: RunContext) {}

  /** The decisions the journal held when this runner opened it. */
  noteHistory(events: readonly JournalEvent[]): void {
    for (const e of events)
      if (e.type === "gate.approved" || e.type === "gate.rejected") this.decisions.push(e);
  }

  noteEvent(e: JournalEvent): void {
    if (e.type === "gate.approved" || e.type === "gate.rejected") this.decisions.push(e);
    if (e.type === "gate.opened") this.refuseEarlyApprovals(e.data.gate_id, e.seq);
  }

  /**
   * Count an approval (or rejection): resolveGate checks it against the gate and the run
   * (a wrong or changed gate is refused with a coded error, and nothing is journaled); its
   * handoffs are copied and its events appended.
   */
  count(approval: Approval, approvalPath: string): void {
    const { setup, log } = this.ctx;
    const packets = log.state.gates[approval.gate_id]?.packets ?? [];
    const review = loadGateReview(setup.dir, log.state, packets);
    const { events, copies } = resolveGate(log.state, approval, setup.loaded, { approvalPath, review });
    registerHandoffs(setup.dir, copies);
    log.append(events);
    log.activity.approvals.push(approval.gate_id);
  }

  /** `--approve` and the policy file: approvals of risk gates, written under approvals/ and counted. */
  applyOperatorApprovals(): void {
    const { setup, log } = this.ctx;
    for (const a of operatorApprovals(log.state, setup.loaded, setup.options, setup.ports.clock)) {
      this.count(a, writeApproval(setup.dir, a).path);
    }
  }

  /** Approvals `dwm approve` wrote while this runner held the lock: counted; one that does not hold is a note. */
  absorb(): void {
    const { setup, log } = this.ctx;
    for (const p of pendingApprovals(setup.dir, this.decisions)) {
      if (p.approval === null) continue;
      try {
        this.count(p.approval, p.path);
      } catch (e) {
        if (!isDwmError(e)) throw e;
        log.note(`approval ${p.path} not used: ${e.code} ${e.message}`);
      }
    }
    this.lastCheck = setup.ports.clock.monotonicMs();
  }

  /** absorb(), at most every 250 ms. */
  absorbIfDue(): void {
    if (this.ctx.setup.ports.clock.monotonicMs() - this.lastCheck >= ABSORB_EVERY_MS) this.absorb();
  }

  /**
   * An unjournaled approval already there when a gate that may only be approved once open opens
   * was not written by `dwm approve` for this opening (it refuses such a gate until it is open).
   * It is renamed `<n>.json.refused-<seq>` so no runner ever counts it; verify flags it.
   */
  private refuseEarlyApprovals(gateId: string, seq: number): void {
    const { setup, log } = this.ctx;
    if (!approvableOnlyOnceOpen(setup.loaded.gates.get(gateId)?.source)) return;
    const early: PendingApproval[] = pendingApprovals(setup.dir, this.decisions).filter((p) =>
      p.path.startsWith(`approvals/${gateId}/`),
    );
    for (const p of early) {
      const to = `${p.path}.refused-${seq}`;
      fs.renameSync(resolveInside(setup.dir, p.path, "approval"), resolveInside(setup.dir, to, "approval"));
      log.note(`approval ${p.path} was there before gate ${gateId} opened: not counted (kept as ${to})`);
    }
  }
}
