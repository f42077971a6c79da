import path from "node:path";
import type { LoadedRun } from "@dwm/compiler";
import { type Clock, isDwmError } from "@dwm/core";
import {
  isFinalRefusal,
  loadGateReview,
  type PendingApproval,
  pendingApprovals,
  policyApprovals,
  readPendingApproval,
  refusalDraft,
  resolveGate,
  writeApproval,
} from "@dwm/gate-resolver";
import { registerHandoffs } from "@dwm/ingester";
import type { Approval, ApprovalPolicy, JournalEvent, RunState } from "@dwm/schemas";
import { approvalHead } from "../integration.js";
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
  signing: { clock: Clock; keyId: string; integrationHead: string | null },
): Approval[] {
  const lists: Approval[][] = [];
  if (options.approve && options.approve.categories.length > 0) {
    const { approver, categories } = options.approve;
    const asPolicy: ApprovalPolicy = {
      kind: "approval-policy",
      schema_version: "1",
      approve: [...categories] as ApprovalPolicy["approve"],
    };
    const policyName = `dwm run --approve ${categories.join(",")}`;
    lists.push(
      policyApprovals(state, loaded, asPolicy, { ...signing, policyName }).map((a) => ({
        ...a,
        approver,
        reason: `approved by the operator with ${policyName}`,
      })),
    );
  }
  if (options.policy) {
    lists.push(
      policyApprovals(state, loaded, options.policy.policy, { ...signing, policyName: options.policy.name }),
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

/** Journal events that name approval files: counted (gate.approved, gate.rejected) or refused. */
function namesApprovalFiles(e: JournalEvent): boolean {
  return e.type === "gate.approved" || e.type === "gate.rejected" || e.type === "approval.refused";
}

/**
 * The approval desk: the one place an approval is counted. Every approval it counts is read
 * from its signed file and checked twice: its signature against the repository's trusted
 * operator keys (pendingApprovals), then its fields against the gate and the integration head
 * as they are now (resolveGate). It signs and counts the operator's approvals given with the
 * run (`--approve`, the policy file), counts those `dwm approve` wrote while this runner holds
 * the lock, and journals as refused (approval.refused) every approval file that can never
 * count: unsigned, untrusted, forged, replayed from another run or an earlier gate, shown an
 * integration head no longer current, or there before its human gate opened.
 */
export class ApprovalDesk implements EventObserver {
  // Events naming approval files: pendingApprovals tells them from the others.
  private readonly decisions: JournalEvent[] = [];
  // Files that were there when their human gate opened: refused at the next look.
  private readonly early = new Map<string, { file: PendingApproval; gateId: string }>();
  private lastCheck = 0;

  constructor(private readonly ctx: RunContext) {}

  /** The decisions the journal held when this runner opened it. */
  noteHistory(events: readonly JournalEvent[]): void {
    for (const e of events) if (namesApprovalFiles(e)) this.decisions.push(e);
  }

  noteEvent(e: JournalEvent): void {
    if (namesApprovalFiles(e)) this.decisions.push(e);
    if (e.type === "gate.opened") this.noteEarlyApprovals(e.data.gate_id);
  }

  /** The integration head now: the branch's, else the base commit (what `dwm approve` shows). */
  private head(): Promise<string | null> {
    const { setup } = this.ctx;
    return approvalHead(setup.gitPorts, setup.runId, setup.baseCommit);
  }

  private pending(): PendingApproval[] {
    const { setup } = this.ctx;
    return pendingApprovals(setup.dir, this.decisions, setup.options.operator.trust);
  }

  /**
   * Count an approval (or rejection) read from its signed file: resolveGate checks it against
   * the gate, the run and the integration head (a wrong or changed gate is refused with a coded
   * error, and nothing is journaled); its handoffs are copied and its events appended.
   */
  count(approval: Approval, file: { path: string; digest: string }, integrationHead: string | null): void {
    const { setup, log } = this.ctx;
    const packets = log.state.gates[approval.gate_id]?.packets ?? [];
    const review = loadGateReview(setup.dir, log.state, packets);
    const { events, copies } = resolveGate(log.state, approval, setup.loaded, {
      approvalPath: file.path,
      approvalDigest: file.digest,
      integrationHead,
      review,
    });
    registerHandoffs(setup.dir, copies);
    log.append(events);
    log.activity.approvals.push(approval.gate_id);
  }

  /** Journal that an approval file never counts, and say so. */
  private refuse(
    file: PendingApproval,
    problem: { code: string; message: string; keyId: string | null },
  ): void {
    this.ctx.log.append([refusalDraft(file, problem)]);
    this.ctx.log.note(`approval ${file.path} refused: ${problem.code} ${problem.message}`);
  }

  /** Count a signed approval file, or refuse it: for good when it can never count, for now otherwise. */
  private countOrRefuse(p: PendingApproval, head: string | null): void {
    if (p.approval === null) {
      if (p.problem) this.refuse(p, p.problem);
      return;
    }
    try {
      this.count(p.approval, p, head);
    } catch (e) {
      if (!isDwmError(e)) throw e;
      if (isFinalRefusal(e.code, e.details))
        this.refuse(p, { code: e.code, message: e.message, keyId: p.approval.key_id });
      else this.ctx.log.note(`approval ${p.path} not used yet: ${e.code} ${e.message}`);
    }
  }

  /**
   * `--approve` and the policy file: approvals of risk gates, signed with the operator's key,
   * written under approvals/ and counted through the same signature check as any other.
   */
  async applyOperatorApprovals(): Promise<void> {
    const { setup, log } = this.ctx;
    const { key } = setup.options.operator;
    const head = await this.head();
    const signing = { clock: setup.ports.clock, keyId: key.keyId, integrationHead: head };
    for (const a of operatorApprovals(log.state, setup.loaded, setup.options, signing)) {
      const stored = writeApproval(setup.dir, a, key);
      const root = path.join(setup.dir, "approvals");
      this.countOrRefuse(
        readPendingApproval(root, stored.path.slice("approvals/".length), setup.options.operator.trust),
        head,
      );
    }
  }

  /**
   * Approval files no journal event names: the ones there before their human gate opened are
   * refused; each other one is counted, or refused when it can never count; one that may count
   * later (its gate not open yet, a packet in flight) waits, with a note.
   */
  async absorb(): Promise<void> {
    const { setup } = this.ctx;
    const early = [...this.early.values()];
    this.early.clear();
    for (const { file, gateId } of early) {
      const msg = `it was there before gate ${gateId} opened; a human gate is decided only once open`;
      this.refuse(file, {
        code: "ERR_GATE_NOT_OPEN",
        message: msg,
        keyId: file.approval?.key_id ?? file.problem?.keyId ?? null,
      });
    }
    const pending = this.pending();
    if (pending.length > 0) {
      const head = await this.head();
      for (const p of pending) this.countOrRefuse(p, head);
    }
    this.lastCheck = setup.ports.clock.monotonicMs();
  }

  /** absorb(), at most every 250 ms. */
  async absorbIfDue(): Promise<void> {
    if (this.ctx.setup.ports.clock.monotonicMs() - this.lastCheck >= ABSORB_EVERY_MS) await this.absorb();
  }

  /**
   * An unjournaled approval already there when a gate that may only be approved once open opens
   * was not written by `dwm approve` for this opening (it refuses such a gate until it is open):
   * a worker could have planted it. Noted now, journaled as refused at the next look (before any
   * approval is counted), so no runner ever counts it.
   */
  private noteEarlyApprovals(gateId: string): void {
    const { setup } = this.ctx;
    if (!approvableOnlyOnceOpen(setup.loaded.gates.get(gateId)?.source)) return;
    for (const file of this.pending())
      if (file.gateId === gateId) this.early.set(file.path, { file, gateId });
  }
}
