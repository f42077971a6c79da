import type {
  BlockedPacket,
  Dispatchable,
  Frontier,
  FrontierStatus,
  Gate,
  GateToOpen,
  Packet,
  PacketState,
  PacketToSkip,
  Run,
  RunState,
} from "@dwm/schemas";
import { schedulerErrors } from "./errors.js";
import {
  awaitingDecision,
  classified,
  dispatchKind,
  fanoutTemplate,
  humanGatePhase,
  type PacketLook,
  repairBudgetSpent,
  settled,
  skippedUpstream,
  unapprovedGates,
  unfinishedDependencies,
  upstreamFailed,
} from "./internal/classify.js";

/** What the scheduler needs of a loaded run (a subset of the compiler's LoadedRun). */
export interface FrontierRun {
  run: Run;
  /** Packets by id, in run.json order (topological, then plan order). */
  packets: ReadonlyMap<string, Packet>;
  gates: ReadonlyMap<string, Gate>;
}

/** Caps and budgets the frontier respects. Every field is optional; absent means "no cap". */
export interface FrontierPolicy {
  /** `--concurrency N`: overrides the plan's parallelism.concurrency_cap. */
  concurrency?: number | null | undefined;
  /** The plan's parallelism.concurrency_cap (planLimits()). Default 1 when neither is given. */
  planConcurrencyCap?: number | null | undefined;
  /** The plan's budget.max_agents: at most this many attempts at once. */
  maxAgents?: number | null | undefined;
  /** Total attempts the run may dispatch over its whole history (attempt numbers summed). */
  maxAttempts?: number | null | undefined;
  /** Tokens the run may spend, where backends report them; `tokensUsed` is what it spent so far. */
  tokenBudget?: number | null | undefined;
  tokensUsed?: number | undefined;
  /** US dollars the run may spend (`--budget-usd`), priced by the caller; `usdSpent` is what it spent so far. */
  usdBudget?: number | null | undefined;
  usdSpent?: number | undefined;
  /** Infrastructure retries waiting for their time: packet id → RFC 3339 not-before, compared with `now`. */
  notBefore?: Readonly<Record<string, string>> | undefined;
  now?: string | undefined;
}

function positiveInt(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : null;
}

/** The plan's own limits: parallelism.concurrency_cap and budget.max_agents (null when absent or unusable). */
export function planLimits(plan: unknown): { concurrencyCap: number | null; maxAgents: number | null } {
  const p = (plan ?? {}) as {
    parallelism?: { concurrency_cap?: unknown };
    budget?: { max_agents?: unknown };
  };
  return {
    concurrencyCap: positiveInt(p.parallelism?.concurrency_cap),
    maxAgents: positiveInt(p.budget?.max_agents),
  };
}

function checkPolicy(policy: FrontierPolicy): void {
  const ints: [string, unknown][] = [
    ["concurrency", policy.concurrency],
    ["planConcurrencyCap", policy.planConcurrencyCap],
    ["maxAgents", policy.maxAgents],
  ];
  for (const [name, v] of ints) {
    if (v !== undefined && v !== null && positiveInt(v) === null) {
      throw schedulerErrors.create("ERR_SCHEDULER_POLICY_INVALID", `${name} must be a whole number ≥ 1`, {
        details: { [name]: v },
      });
    }
  }
  for (const [name, v] of [
    ["maxAttempts", policy.maxAttempts],
    ["tokenBudget", policy.tokenBudget],
    ["tokensUsed", policy.tokensUsed],
  ] as const) {
    if (v !== undefined && v !== null && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) {
      throw schedulerErrors.create("ERR_SCHEDULER_POLICY_INVALID", `${name} must be a whole number ≥ 0`, {
        details: { [name]: v },
      });
    }
  }
  for (const [name, v] of [
    ["usdBudget", policy.usdBudget],
    ["usdSpent", policy.usdSpent],
  ] as const) {
    if (v !== undefined && v !== null && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
      throw schedulerErrors.create("ERR_SCHEDULER_POLICY_INVALID", `${name} must be a number ≥ 0`, {
        details: { [name]: v },
      });
    }
  }
}

/** The effective number of attempts that may run at once. */
export function concurrencyCap(policy: FrontierPolicy): number {
  const base = policy.concurrency ?? policy.planConcurrencyCap ?? 1;
  return Math.max(1, policy.maxAgents ? Math.min(base, policy.maxAgents) : base);
}

/** What one packet is, for the frontier: the part of computeFrontier that looks at one packet. */
export interface Classified {
  kind:
    | "completed"
    | "failed"
    | "in-flight"
    | "blocked"
    | "open-gate"
    | "expand"
    | "eligible"
    | "skip"
    | "skipped"
    | "unskip";
  /** Attempts the packet used (summed into the attempt budget). */
  attempts: number;
  /** Cannot complete: it failed, or something upstream did. */
  doomed: boolean;
  /** Completed, its work not in the integration branch yet. */
  unintegrated: boolean;
  /** Unintegrated and no conflict gate holds it (the runner merges it next). */
  mergeable: boolean;
  /** Why it waits (blocked and open-gate). */
  blocked: BlockedPacket | null;
  /** The completion gate to open (open-gate). */
  openGate: GateToOpen | null;
  /** Why the runner skips it now (skip): a skip gate not approved, or a skipped packet upstream. */
  skip: PacketToSkip | null;
  /** Gates it adds to waiting_gates. */
  waits: readonly string[];
  /** Eligible: pending (or repairing, abandoned) with everything it needs done; dispatched unless backoff or the budget holds it. */
  dispatchKind: Dispatchable["kind"] | null;
  /** Blocked for its repair budget. */
  budget: boolean;
}

/** What classifying a packet reads besides its own state. */
export interface ClassifyContext {
  state: RunState;
  run: FrontierRun;
  deps: ReadonlyMap<string, readonly string[]>;
  /** Item packets of each expanded fan-out template, in expansion order. */
  itemsOf: ReadonlyMap<string, readonly string[]>;
  /** Is `dep` (a dependency of `id`) known to be doomed? */
  isDoomed: (dep: string, id: string) => boolean;
  /**
   * The open gates holding each packet, in the order of `state.gates`, when the state cannot
   * change while the context is used (computeFrontier): one pass over the gates instead of one
   * per packet, which a run with a gate per packet cannot afford. Absent: each packet looks.
   */
  openGates?: ReadonlyMap<string, readonly string[]>;
}

/** Each packet's open gates, in the order of `state.gates` (see ClassifyContext.openGates). */
function openGatesByPacket(state: RunState): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [g, gate] of Object.entries(state.gates)) {
    if (gate?.state !== "open") continue;
    for (const id of gate.packets) {
      const list = out.get(id);
      if (list === undefined) out.set(id, [g]);
      else if (list.at(-1) !== g) list.push(g);
    }
  }
  return out;
}

/**
 * One packet's place in the frontier, before the run-wide budget and backoff (which
 * `computeFrontier` and `FrontierTracker` apply to eligible packets). It reads the
 * packet's state, its dependencies' states (and, for an expanded fan-out template, its
 * items'), the gates, and whether a dependency is doomed.
 */
export function classifyPacket(id: string, ctx: ClassifyContext): Classified {
  const p = ctx.state.packets[id] as PacketState;
  const look: PacketLook = { id, p, packet: ctx.run.packets.get(id), ctx };
  return (
    settled(look) ??
    upstreamFailed(look) ??
    awaitingDecision(look) ??
    // From here on: pending, repairing or abandoned.
    skippedUpstream(look) ??
    unfinishedDependencies(look) ??
    fanoutTemplate(look) ??
    unapprovedGates(look) ??
    humanGatePhase(look) ??
    repairBudgetSpent(look) ??
    classified("eligible", p.attempts, { dispatchKind: dispatchKind(p) })
  );
}

/** The run order (topological, then plan order, then packets only the journal knows) and each packet's dependencies. */
export function frontierOrder(
  state: RunState,
  run: FrontierRun,
): { order: string[]; deps: Map<string, readonly string[]>; itemsOf: Map<string, string[]> } {
  const order: string[] = [];
  const seen = new Set<string>();
  for (const e of run.run.packets) {
    if (state.packets[e.packet_id] && !seen.has(e.packet_id)) {
      order.push(e.packet_id);
      seen.add(e.packet_id);
    }
  }
  for (const id of Object.keys(state.packets)) if (!seen.has(id)) order.push(id);
  const deps = new Map<string, readonly string[]>();
  for (const e of run.run.packets) deps.set(e.packet_id, e.depends_on);
  for (const [id, p] of run.packets) if (!deps.has(id)) deps.set(id, p.depends_on);
  // Fan-out (schema 0.6): the item packets of each expanded template, in expansion order.
  const itemsOf = new Map<string, string[]>();
  for (const f of Object.values(state.fanouts ?? {})) {
    for (const item of f?.packets ?? []) {
      if (!state.packets[item.packet_id]) continue;
      const l = itemsOf.get(item.template) ?? [];
      l.push(item.packet_id);
      itemsOf.set(item.template, l);
    }
  }
  return { order, deps, itemsOf };
}

/** Which run-wide budget stops new dispatches, if any. */
export type Exhausted = "attempts" | "tokens" | "usd" | null;

/** The run-wide budget: attempts used against max_attempts, tokens against the token budget, dollars against the USD budget. */
export function exhaustion(policy: FrontierPolicy, attemptsUsed: number): Exhausted {
  const tokensUsed = policy.tokensUsed ?? 0;
  if (policy.maxAttempts !== undefined && policy.maxAttempts !== null && attemptsUsed >= policy.maxAttempts) {
    return "attempts";
  }
  if (policy.tokenBudget !== undefined && policy.tokenBudget !== null && tokensUsed >= policy.tokenBudget) {
    return "tokens";
  }
  if (
    policy.usdBudget !== undefined &&
    policy.usdBudget !== null &&
    (policy.usdSpent ?? 0) >= policy.usdBudget
  ) {
    return "usd";
  }
  return null;
}

/** The USD part of a frontier's budget: present only when the run has a USD budget (frontiers without one keep their bytes). */
export function usdFields(
  policy: FrontierPolicy,
): { usd_spent: number; usd_budget: number } | Record<string, never> {
  return policy.usdBudget !== undefined && policy.usdBudget !== null
    ? { usd_spent: policy.usdSpent ?? 0, usd_budget: policy.usdBudget }
    : {};
}

/** Why the budget holds a packet, in words. */
export function exhaustedDetail(
  exhausted: Exclude<Exhausted, null>,
  use: BudgetUse,
  policy: FrontierPolicy,
): string {
  if (exhausted === "attempts") return `${use.attemptsUsed} attempts used of max ${policy.maxAttempts}`;
  if (exhausted === "tokens") return `${use.tokensUsed} tokens used of budget ${policy.tokenBudget}`;
  return `$${(policy.usdSpent ?? 0).toFixed(2)} spent of budget $${policy.usdBudget}`;
}

/** Is eligible packet `id` waiting for its infrastructure retry's time? */
export function inBackoff(policy: FrontierPolicy, id: string): string | null {
  const nb = policy.notBefore?.[id];
  return nb !== undefined && policy.now !== undefined && Date.parse(policy.now) < Date.parse(nb) ? nb : null;
}

/** Free slots: the cap less what is in flight, and no more than the attempt budget has left. */
export function freeSlots(
  policy: FrontierPolicy,
  cap: number,
  inFlight: number,
  attemptsUsed: number,
): number {
  let slots = Math.max(0, cap - inFlight);
  if (policy.maxAttempts !== undefined && policy.maxAttempts !== null) {
    slots = Math.min(slots, Math.max(0, policy.maxAttempts - attemptsUsed));
  }
  return slots;
}

/** The frontier's status from what it counted (the same rule for computeFrontier and FrontierTracker). */
export function frontierStatus(c: {
  packets: number;
  completed: number;
  /** Packets the run went on without (packet.skipped): settled like completed ones. */
  skipped: number;
  /** Packets the runner skips now. */
  skip: number;
  /** Skipped packets the runner reopens now. */
  unskip: number;
  unintegrated: number;
  mergeable: number;
  inFlight: number;
  dispatch: number;
  openGates: number;
  expand: number;
  backoff: number;
  candidates: number;
  budgetBlocked: number;
  waitingGates: number;
}): FrontierStatus {
  if (c.packets > 0 && c.completed + c.skipped === c.packets && c.unintegrated === 0) return "complete";
  if (
    c.inFlight > 0 ||
    c.dispatch > 0 ||
    c.openGates > 0 ||
    c.expand > 0 ||
    c.mergeable > 0 ||
    c.skip > 0 ||
    c.unskip > 0
  )
    return "running";
  if (c.backoff > 0) return "waiting";
  if (c.candidates > 0 || c.budgetBlocked > 0) return "budget";
  if (c.waitingGates > 0) return "gate";
  return "failed";
}

/** The checks every frontier computation starts with. */
export function checkFrontierInputs(state: RunState, run: FrontierRun, policy: FrontierPolicy): void {
  checkPolicy(policy);
  if (state.run_id !== run.run.run_id) {
    throw schedulerErrors.create(
      "ERR_SCHEDULER_RUN_MISMATCH",
      `the state is of run ${state.run_id}, the run is ${run.run.run_id}`,
      { details: { state_run: state.run_id, run_id: run.run.run_id } },
    );
  }
}

/** The run's budget as it stands before this turn. */
export interface BudgetUse {
  /** Attempt numbers summed over every packet. */
  attemptsUsed: number;
  tokensUsed: number;
  exhausted: Exhausted;
}

function budgetUse(state: RunState, order: readonly string[], policy: FrontierPolicy): BudgetUse {
  let attemptsUsed = 0;
  for (const id of order) attemptsUsed += state.packets[id]?.attempts ?? 0;
  return { attemptsUsed, tokensUsed: policy.tokensUsed ?? 0, exhausted: exhaustion(policy, attemptsUsed) };
}

/** Where an eligible packet goes this turn. */
export type EligiblePlace =
  | { kind: "backoff" | "budget"; blocked: BlockedPacket }
  | { kind: "candidate"; dispatch: Dispatchable };

/**
 * Where eligible packet `id` goes this turn: blocked while its infrastructure retry
 * waits for its time (backoff), blocked when the run's attempts or tokens are spent
 * (budget), else a candidate for dispatch with its next attempt number.
 */
export function placeEligible(
  id: string,
  c: Classified,
  p: PacketState,
  policy: FrontierPolicy,
  use: BudgetUse,
): EligiblePlace {
  const nb = inBackoff(policy, id);
  if (nb !== null) {
    return {
      kind: "backoff",
      blocked: {
        packet_id: id,
        reason: "backoff",
        detail: `infrastructure retry ${p.infra_retries} waits until ${nb}`,
        waiting_on: [],
      },
    };
  }
  if (use.exhausted !== null) {
    return {
      kind: "budget",
      blocked: {
        packet_id: id,
        reason: "budget",
        detail: exhaustedDetail(use.exhausted, use, policy),
        waiting_on: [],
      },
    };
  }
  return {
    kind: "candidate",
    dispatch: { packet_id: id, attempt: c.attempts + 1, kind: c.dispatchKind as Dispatchable["kind"] },
  };
}

/** What computeFrontier gathers while it walks the packets in run order. */
interface FrontierTally {
  completed: string[];
  failed: string[];
  inFlight: string[];
  blocked: BlockedPacket[];
  candidates: Dispatchable[];
  openGates: GateToOpen[];
  waitingGates: Set<string>;
  expand: string[];
  skip: PacketToSkip[];
  skipped: number;
  unskip: string[];
  /** Packets that cannot complete because something upstream failed. */
  doomed: Set<string>;
  unintegrated: number;
  mergeable: number;
  backoff: number;
  budgetBlocked: number;
}

function newTally(): FrontierTally {
  return {
    completed: [],
    failed: [],
    inFlight: [],
    blocked: [],
    candidates: [],
    openGates: [],
    waitingGates: new Set(),
    expand: [],
    skip: [],
    skipped: 0,
    unskip: [],
    doomed: new Set(),
    unintegrated: 0,
    mergeable: 0,
    backoff: 0,
    budgetBlocked: 0,
  };
}

/** Add packet `id`, classified `c`, to the tally (an eligible one where placeEligible put it: `where`). */
function record(t: FrontierTally, id: string, c: Classified, where: EligiblePlace | null): void {
  if (c.doomed) t.doomed.add(id);
  for (const g of c.waits) t.waitingGates.add(g);
  if (c.unintegrated) t.unintegrated++;
  if (c.mergeable) t.mergeable++;
  if (c.budget) t.budgetBlocked++;
  switch (c.kind) {
    case "completed":
      t.completed.push(id);
      break;
    case "failed":
      t.failed.push(id);
      break;
    case "in-flight":
      t.inFlight.push(id);
      break;
    case "expand":
      t.expand.push(id);
      break;
    case "open-gate":
      t.openGates.push(c.openGate as GateToOpen);
      t.blocked.push(c.blocked as BlockedPacket);
      break;
    case "blocked":
      t.blocked.push(c.blocked as BlockedPacket);
      break;
    case "skip":
      t.skip.push(c.skip as PacketToSkip);
      break;
    case "skipped":
      t.skipped++;
      break;
    case "unskip":
      t.unskip.push(id);
      break;
    case "eligible":
      if (where?.kind === "candidate") t.candidates.push(where.dispatch);
      else if (where) {
        if (where.kind === "backoff") t.backoff++;
        else t.budgetBlocked++;
        t.blocked.push(where.blocked);
      }
      break;
  }
}

/** The frontier document from the tally: this turn's dispatch, the status, the budget. */
function frontierOf(
  state: RunState,
  policy: FrontierPolicy,
  packets: number,
  t: FrontierTally,
  use: BudgetUse,
): Frontier {
  const cap = concurrencyCap(policy);
  // The attempt cap also bounds how many may start in this turn.
  const dispatch = t.candidates.slice(0, freeSlots(policy, cap, t.inFlight.length, use.attemptsUsed));
  const status = frontierStatus({
    packets,
    completed: t.completed.length,
    skipped: t.skipped,
    skip: t.skip.length,
    unskip: t.unskip.length,
    unintegrated: t.unintegrated,
    mergeable: t.mergeable,
    inFlight: t.inFlight.length,
    dispatch: dispatch.length,
    openGates: t.openGates.length,
    expand: t.expand.length,
    backoff: t.backoff,
    candidates: t.candidates.length,
    budgetBlocked: t.budgetBlocked,
    waitingGates: t.waitingGates.size,
  });
  return {
    kind: "frontier",
    schema_version: "1",
    run_id: state.run_id,
    seq: state.seq,
    status,
    dispatch,
    ready: t.candidates.map((c) => c.packet_id),
    open_gates: t.openGates,
    expand: t.expand,
    ...(t.skip.length > 0 ? { skip: t.skip } : {}),
    ...(t.unskip.length > 0 ? { unskip: t.unskip } : {}),
    in_flight: t.inFlight,
    blocked: t.blocked,
    waiting_gates: [...t.waitingGates].sort(),
    failed: t.failed,
    completed: t.completed,
    budget: {
      concurrency_cap: cap,
      slots_free: Math.max(0, cap - t.inFlight.length),
      attempts_used: use.attemptsUsed,
      max_attempts: policy.maxAttempts ?? null,
      tokens_used: use.tokensUsed,
      token_budget: policy.tokenBudget ?? null,
      exhausted: use.exhausted,
      ...usdFields(policy),
    },
  };
}

/**
 * What can run now and what waits, and why. Pure: it reads the fold of the journal
 * (`state`), the compiled run and the policy, and returns the same frontier for the
 * same inputs. Ready packets come in run order (topological, then plan order); a
 * packet is ready when it is pending (or repairing, or abandoned), every packet it
 * depends on is completed and merged into the integration branch, and every gate
 * that holds it is approved. A human-gate packet without workers is never
 * dispatched: its completion gate is listed in `open_gates` once its dependencies
 * are done. A fan-out template (schema 0.6) is never dispatched either: the first
 * per-item phase is listed in `expand` once its dependencies are done (unless a
 * fan-out limit gate waits), and an expanded template counts as done for its
 * dependents only when every one of its item packets is.
 *
 * It looks at every packet: a run loop that asks after every event should keep a
 * `FrontierTracker`, which looks again only at the packets the events changed.
 */
export function computeFrontier(state: RunState, run: FrontierRun, policy: FrontierPolicy = {}): Frontier {
  checkFrontierInputs(state, run, policy);
  const { order, deps, itemsOf } = frontierOrder(state, run);
  const use = budgetUse(state, order, policy);
  const t = newTally();
  const ctx: ClassifyContext = {
    state,
    run,
    deps,
    itemsOf,
    isDoomed: (d) => t.doomed.has(d),
    openGates: openGatesByPacket(state),
  };
  for (const id of order) {
    const c = classifyPacket(id, ctx);
    const where =
      c.kind === "eligible" ? placeEligible(id, c, state.packets[id] as PacketState, policy, use) : null;
    record(t, id, c, where);
  }
  return frontierOf(state, policy, order.length, t, use);
}
