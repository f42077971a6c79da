import { MinHeap } from "@dwm/core";
import type { Dispatchable, Frontier, GateToOpen, JournalEvent, RunState } from "@dwm/schemas";
import {
  type Classified,
  type ClassifyContext,
  checkFrontierInputs,
  classifyPacket,
  computeFrontier,
  concurrencyCap,
  exhaustion,
  type FrontierPolicy,
  type FrontierRun,
  freeSlots,
  frontierOrder,
  frontierStatus,
  inBackoff,
  usdFields,
} from "./compute-frontier.js";
import { schedulerErrors } from "./errors.js";

/** What a run loop needs of the frontier: what to start, which gates to open, whether to go on. */
export type FrontierSummary = Pick<
  Frontier,
  | "kind"
  | "schema_version"
  | "run_id"
  | "seq"
  | "status"
  | "dispatch"
  | "open_gates"
  | "waiting_gates"
  | "budget"
> & { expand: string[] };

/** Events that change only the packet they name (and, through it, its dependents). */
const PACKET_EVENTS = new Set<JournalEvent["type"]>([
  "packet.dispatched",
  "attempt.recorded",
  "packet.reviewed",
  "packet.completed",
  "repair.scheduled",
  "infra.retry-scheduled",
  "packet.failed",
  "packet.abandoned",
  "packet.reopened",
  "integration.merged",
  "integration.conflict",
]);
/** Events that change nothing the frontier reads. */
const NEUTRAL_EVENTS = new Set<JournalEvent["type"]>([
  "lease.taken",
  "lease.taken-over",
  "journal.truncated",
  "store.recovered",
  "handoff.registered",
  "run.stopped",
  "run.completed",
  "approval.refused",
  "attestation.recorded",
]);

/**
 * The frontier of a run, kept up to date event by event. `computeFrontier` looks at
 * every packet, so a run loop that asks after each settled attempt spends time that
 * grows with the square of the plan; the tracker classifies every packet once, then
 * only the packets the noted events name and the dependents whose view of them
 * changed (`classifyPacket`, the same rule `computeFrontier` applies). Gate decisions,
 * fan-out expansions, recompiles and any gap in the noted events make it classify
 * everything again. Its answer is `computeFrontier`'s for the same inputs, without the
 * lists that name every packet (`check: true` compares the two on every call).
 */
export class FrontierTracker {
  private run: FrontierRun | null = null;
  private runId = "";
  /** The last seq noted (state.seq after each frontier()). */
  private noted = -1;
  private full = true;
  private readonly dirty = new Set<string>();

  private order: string[] = [];
  private readonly index = new Map<string, number>();
  private ctx: ClassifyContext | null = null;
  private readonly dependents = new Map<string, string[]>();
  private readonly templateOf = new Map<string, string>();
  private readonly entries = new Map<string, Classified>();
  private readonly sigs = new Map<string, string>();

  private completed = 0;
  private unintegrated = 0;
  private mergeable = 0;
  private inFlight = 0;
  private budgetBlocked = 0;
  private attemptsUsed = 0;
  private readonly waits = new Map<string, number>();
  private readonly eligible = new Set<string>();
  private readonly eligibleHeap = new MinHeap();
  private readonly openGates = new Map<string, GateToOpen>();
  private readonly expand = new Set<string>();

  /** Packets classified (again) so far: every packet on a full pass, the touched ones otherwise. */
  classifications = 0;

  constructor(private readonly options: { check?: boolean } = {}) {}

  /** Forget the classification: the next frontier() looks at every packet. */
  reset(): void {
    this.full = true;
  }

  /** Events appended since the last frontier(), in journal order. */
  note(events: readonly JournalEvent[]): void {
    for (const e of events) {
      if (e.seq !== this.noted + 1) this.full = true;
      this.noted = e.seq;
      if (PACKET_EVENTS.has(e.type)) this.dirty.add((e.data as { packet_id: string }).packet_id);
      else if (!NEUTRAL_EVENTS.has(e.type)) this.full = true;
    }
  }

  /** The frontier of `state` (the state the tracker saw last plus the noted events). */
  frontier(state: RunState, run: FrontierRun, policy: FrontierPolicy = {}): FrontierSummary {
    checkFrontierInputs(state, run, policy);
    if (
      this.full ||
      run !== this.run ||
      state !== this.ctx?.state ||
      state.run_id !== this.runId ||
      this.noted !== state.seq
    ) {
      this.rebuild(state, run);
    } else if (this.dirty.size > 0) {
      if (!this.update(state)) this.rebuild(state, run);
    }
    this.dirty.clear();
    this.noted = state.seq;
    const out = this.summary(state, policy);
    if (this.options.check) this.compare(out, computeFrontier(state, run, policy));
    return out;
  }

  private rebuild(state: RunState, run: FrontierRun): void {
    this.run = run;
    this.runId = state.run_id;
    this.full = false;
    const { order, deps, itemsOf } = frontierOrder(state, run);
    this.order = order;
    this.index.clear();
    for (let i = 0; i < order.length; i++) this.index.set(order[i] as string, i);
    this.dependents.clear();
    for (const id of order) {
      for (const d of deps.get(id) ?? []) {
        const l = this.dependents.get(d);
        if (l) l.push(id);
        else this.dependents.set(d, [id]);
      }
    }
    this.templateOf.clear();
    for (const [t, items] of itemsOf) for (const i of items) this.templateOf.set(i, t);
    this.ctx = {
      state,
      run,
      deps,
      itemsOf,
      isDoomed: (d, id) => {
        const i = this.index.get(d);
        return i !== undefined && i < (this.index.get(id) as number) && this.entries.get(d)?.doomed === true;
      },
    };
    this.entries.clear();
    this.sigs.clear();
    this.completed = 0;
    this.unintegrated = 0;
    this.mergeable = 0;
    this.inFlight = 0;
    this.budgetBlocked = 0;
    this.attemptsUsed = 0;
    this.waits.clear();
    this.eligible.clear();
    this.eligibleHeap.clear();
    this.openGates.clear();
    this.expand.clear();
    for (const id of order) this.classify(id, state);
  }

  /** Classify the touched packets again, then their dependents while what they see changes. False: start over. */
  private update(state: RunState): boolean {
    const queue = new MinHeap();
    const queued = new Set<number>();
    const enqueue = (id: string): boolean => {
      const i = this.index.get(id);
      if (i === undefined) return false;
      if (!queued.has(i)) {
        queued.add(i);
        queue.push(i);
      }
      return true;
    };
    for (const id of this.dirty) if (!enqueue(id)) return false;
    for (let i = queue.pop(); i !== undefined; i = queue.pop()) {
      const id = this.order[i] as string;
      const before = this.sigs.get(id);
      this.classify(id, state);
      if (this.sigs.get(id) === before) continue;
      for (const d of this.dependents.get(id) ?? []) enqueue(d);
      const t = this.templateOf.get(id);
      if (t !== undefined) for (const d of this.dependents.get(t) ?? []) enqueue(d);
    }
    return true;
  }

  /** What a packet's dependents read of it: done (and the conflict gate holding it), completed, doomed. */
  private signature(id: string, state: RunState, c: Classified): string {
    const p = state.packets[id];
    if (p?.state === "completed")
      return `c|${p.conflict_gate ?? ""}|${p.commit === null || p.merged_commit !== null}`;
    return `${p?.state === "expanded" ? "x" : "-"}|${c.doomed}`;
  }

  private classify(id: string, state: RunState): void {
    this.classifications++;
    const old = this.entries.get(id);
    if (old) this.account(id, old, -1);
    const c = classifyPacket(id, this.ctx as ClassifyContext);
    this.entries.set(id, c);
    this.sigs.set(id, this.signature(id, state, c));
    this.account(id, c, 1);
  }

  private account(id: string, c: Classified, sign: 1 | -1): void {
    this.attemptsUsed += sign * c.attempts;
    if (c.unintegrated) this.unintegrated += sign;
    if (c.mergeable) this.mergeable += sign;
    if (c.budget) this.budgetBlocked += sign;
    for (const g of c.waits) {
      const n = (this.waits.get(g) ?? 0) + sign;
      if (n === 0) this.waits.delete(g);
      else this.waits.set(g, n);
    }
    switch (c.kind) {
      case "completed":
        this.completed += sign;
        break;
      case "in-flight":
        this.inFlight += sign;
        break;
      case "expand":
        if (sign > 0) this.expand.add(id);
        else this.expand.delete(id);
        break;
      case "open-gate":
        if (sign > 0) this.openGates.set(id, c.openGate as GateToOpen);
        else this.openGates.delete(id);
        break;
      case "eligible":
        if (sign > 0) {
          this.eligible.add(id);
          this.eligibleHeap.push(this.index.get(id) as number);
        } else this.eligible.delete(id);
        break;
      default:
        break;
    }
  }

  private inOrder(ids: Iterable<string>): string[] {
    return [...ids].sort((a, b) => (this.index.get(a) as number) - (this.index.get(b) as number));
  }

  /** Eligible packets whose infrastructure retry waits for its time. */
  private inBackoffCount(policy: FrontierPolicy): number {
    let backoff = 0;
    for (const id of Object.keys(policy.notBefore ?? {})) {
      if (this.eligible.has(id) && inBackoff(policy, id) !== null) backoff++;
    }
    return backoff;
  }

  /** The first `slots` eligible packets in run order, skipping those in backoff (stale heap entries are dropped here). */
  private firstEligible(policy: FrontierPolicy, slots: number): Dispatchable[] {
    const dispatch: Dispatchable[] = [];
    const seen = new Set<number>();
    const keep: number[] = [];
    for (let i = this.eligibleHeap.pop(); i !== undefined; i = this.eligibleHeap.pop()) {
      const id = this.order[i] as string;
      if (seen.has(i) || !this.eligible.has(id)) continue;
      seen.add(i);
      keep.push(i);
      if (inBackoff(policy, id) !== null) continue;
      const c = this.entries.get(id) as Classified;
      dispatch.push({
        packet_id: id,
        attempt: c.attempts + 1,
        kind: c.dispatchKind as Dispatchable["kind"],
      });
      if (dispatch.length === slots) break;
    }
    for (const i of keep) this.eligibleHeap.push(i);
    return dispatch;
  }

  private summary(state: RunState, policy: FrontierPolicy): FrontierSummary {
    const cap = concurrencyCap(policy);
    const exhausted = exhaustion(policy, this.attemptsUsed);
    const backoff = this.inBackoffCount(policy);
    const candidates = exhausted === null ? this.eligible.size - backoff : 0;
    const slots = freeSlots(policy, cap, this.inFlight, this.attemptsUsed);
    const dispatch =
      exhausted === null && slots > 0 && candidates > 0 ? this.firstEligible(policy, slots) : [];
    const openGates = this.inOrder(this.openGates.keys()).map((id) => this.openGates.get(id) as GateToOpen);
    const expand = this.inOrder(this.expand);
    const status = frontierStatus({
      packets: this.order.length,
      completed: this.completed,
      unintegrated: this.unintegrated,
      mergeable: this.mergeable,
      inFlight: this.inFlight,
      dispatch: dispatch.length,
      openGates: openGates.length,
      expand: expand.length,
      backoff,
      candidates,
      budgetBlocked: this.budgetBlocked + (exhausted === null ? 0 : this.eligible.size - backoff),
      waitingGates: this.waits.size,
    });
    return {
      kind: "frontier",
      schema_version: "1",
      run_id: state.run_id,
      seq: state.seq,
      status,
      dispatch,
      open_gates: openGates,
      expand,
      waiting_gates: [...this.waits.keys()].sort(),
      budget: {
        concurrency_cap: cap,
        slots_free: Math.max(0, cap - this.inFlight),
        attempts_used: this.attemptsUsed,
        max_attempts: policy.maxAttempts ?? null,
        tokens_used: policy.tokensUsed ?? 0,
        token_budget: policy.tokenBudget ?? null,
        exhausted,
        ...usdFields(policy),
      },
    };
  }

  private compare(got: FrontierSummary, full: Frontier): void {
    const want: FrontierSummary = {
      kind: full.kind,
      schema_version: full.schema_version,
      run_id: full.run_id,
      seq: full.seq,
      status: full.status,
      dispatch: full.dispatch,
      open_gates: full.open_gates,
      expand: full.expand ?? [],
      waiting_gates: full.waiting_gates,
      budget: full.budget,
    };
    const a = JSON.stringify(got);
    const b = JSON.stringify(want);
    if (a !== b) {
      throw schedulerErrors.create(
        "ERR_SCHEDULER_TRACKER_DIVERGED",
        `the tracked frontier at seq ${got.seq} differs from computeFrontier's`,
        { details: { tracked: got, computed: want } },
      );
    }
  }
}
