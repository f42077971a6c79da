import type {
  BlockedPacket,
  Dispatchable,
  Frontier,
  FrontierStatus,
  Gate,
  GateToOpen,
  Packet,
  PacketState,
  Run,
  RunState,
} from "@dwm/schemas";
import { schedulerErrors } from "./errors.js";

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
  /** Infrastructure retries waiting for their time: packet id → RFC 3339 not-before, compared with `now`. */
  notBefore?: Readonly<Record<string, string>> | undefined;
  now?: string | undefined;
}

const IN_FLIGHT = new Set<PacketState["state"]>(["dispatched", "attempted"]);

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
}

/** The effective number of attempts that may run at once. */
export function concurrencyCap(policy: FrontierPolicy): number {
  const base = policy.concurrency ?? policy.planConcurrencyCap ?? 1;
  return Math.max(1, policy.maxAgents ? Math.min(base, policy.maxAgents) : base);
}

/** A reopened packet's reason names the gate whose rejection reopened it. */
const REOPENED_BY_GATE = /^gate \S+ rejected: /;

/** Why a packet is dispatched again (informational: the attempt is the same either way). */
function dispatchKind(p: PacketState): Dispatchable["kind"] {
  if (p.state === "repairing") return "repair";
  if (p.state === "abandoned") return "retry";
  if (p.attempts === 0) return p.reopens > 0 ? "rework" : "first";
  if (p.reason !== null && REOPENED_BY_GATE.test(p.reason)) return "rework";
  return p.infra_retries > 0 ? "retry" : "rework";
}

/** Is packet `d` done for its dependents: completed, and its work merged (or nothing to merge)? */
function oneDone(state: RunState, d: string): { done: boolean; gate: string | null } {
  const p = state.packets[d];
  if (p?.state !== "completed") return { done: false, gate: null };
  if (p.conflict_gate !== null) return { done: false, gate: p.conflict_gate };
  return { done: p.commit === null || p.merged_commit !== null, gate: null };
}

/** What one packet is, for the frontier: the part of computeFrontier that looks at one packet. */
export interface Classified {
  kind: "completed" | "failed" | "in-flight" | "blocked" | "open-gate" | "expand" | "eligible";
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
}

const NO_WAITS: readonly string[] = [];

function classified(kind: Classified["kind"], attempts: number, extra: Partial<Classified> = {}): Classified {
  return {
    kind,
    attempts,
    doomed: false,
    unintegrated: false,
    mergeable: false,
    blocked: null,
    openGate: null,
    waits: NO_WAITS,
    dispatchKind: null,
    budget: false,
    ...extra,
  };
}

/**
 * One packet's place in the frontier, before the run-wide budget and backoff (which
 * `computeFrontier` and `FrontierTracker` apply to eligible packets). It reads the
 * packet's state, its dependencies' states (and, for an expanded fan-out template, its
 * items'), the gates, and whether a dependency is doomed.
 */
export function classifyPacket(id: string, ctx: ClassifyContext): Classified {
  const { state, run } = ctx;
  const ps = (x: string) => state.packets[x];
  const gateState = (g: string) => state.gates[g]?.state ?? "closed";
  const p = ps(id) as PacketState;
  const n = p.attempts;
  const packet = run.packets.get(id);
  const myDeps = ctx.deps.get(id) ?? [];
  if (p.state === "expanded") {
    // A fan-out template whose item packets exist: its work is theirs.
    return classified("completed", n);
  }
  if (p.state === "completed") {
    if (p.conflict_gate !== null) {
      return classified("completed", n, {
        unintegrated: true,
        waits: gateState(p.conflict_gate) === "open" ? [p.conflict_gate] : NO_WAITS,
      });
    }
    const unintegrated = p.commit !== null && p.merged_commit === null;
    return classified("completed", n, { unintegrated, mergeable: unintegrated });
  }
  if (p.state === "failed") return classified("failed", n, { doomed: true });
  if (IN_FLIGHT.has(p.state)) return classified("in-flight", n);
  const block = (b: Omit<BlockedPacket, "packet_id">, extra: Partial<Classified> = {}) =>
    classified("blocked", n, { blocked: { packet_id: id, ...b }, ...extra });

  const failedUp = myDeps.filter((d) => ctx.isDoomed(d, id));
  if (failedUp.length > 0) {
    return block(
      { reason: "upstream-failed", detail: `upstream ${failedUp.join(", ")} failed`, waiting_on: failedUp },
      { doomed: true },
    );
  }
  if (p.state === "needs-human" || p.state === "reviewed") {
    const holding = Object.entries(state.gates)
      .filter(([, g]) => g?.state === "open" && g.packets.includes(id))
      .map(([g]) => g);
    if (holding.length > 0) {
      return block(
        { reason: "gate", detail: `waiting for a decision on ${holding.join(", ")}`, waiting_on: holding },
        { waits: holding },
      );
    }
    if (p.state === "reviewed" && p.last_verdict === "infra-failed") {
      return block({
        reason: "infra",
        detail: `attempt ${p.attempts} failed for infrastructure reasons (${p.last_outcome ?? "unknown"}) and no retry was scheduled`,
        waiting_on: [],
      });
    }
    return block({
      reason: "gate",
      detail: `reviewed ${p.last_verdict ?? "?"}; waiting for its gate to open`,
      waiting_on: packet?.completion_gate ? [packet.completion_gate] : [],
    });
  }
  // pending, repairing, abandoned
  /**
   * Is dependency `d` done? An expanded fan-out template stands for its item packets:
   * it is done when every one of them is (the reduce waits for all items).
   */
  const templateLeft = new Map<string, number>();
  const depDone = (d: string): { done: boolean; gate: string | null } => {
    if (ps(d)?.state !== "expanded") return oneDone(state, d);
    let gate: string | null = null;
    let left = 0;
    for (const item of ctx.itemsOf.get(d) ?? []) {
      const r = oneDone(state, item);
      if (!r.done) left++;
      gate ??= r.gate;
    }
    templateLeft.set(d, left);
    return { done: left === 0, gate };
  };
  const notDone: string[] = [];
  const conflictGates: string[] = [];
  for (const d of myDeps) {
    const r = depDone(d);
    if (!r.done) notDone.push(d);
    if (r.gate !== null) conflictGates.push(r.gate);
  }
  if (conflictGates.length > 0) {
    return block(
      {
        reason: "gate",
        detail: `upstream work could not be merged into the integration branch: ${conflictGates.join(", ")}`,
        waiting_on: conflictGates,
      },
      { waits: conflictGates.filter((g) => gateState(g) === "open") },
    );
  }
  if (notDone.length > 0) {
    const unmerged = notDone.filter((d) => ps(d)?.state === "completed");
    const items = notDone.filter((d) => templateLeft.has(d));
    return block({
      reason: "dependency",
      detail:
        items.length > 0
          ? `waiting for ${items.map((d) => `${templateLeft.get(d)} of ${ctx.itemsOf.get(d)?.length ?? 0} items of ${d}`).join(", ")}${notDone.length > items.length ? ` and ${notDone.filter((d) => !templateLeft.has(d)).join(", ")}` : ""}`
          : unmerged.length === notDone.length
            ? `waiting for ${notDone.join(", ")} to be merged into the integration branch`
            : `waiting for ${notDone.join(", ")}`,
      waiting_on: notDone,
    });
  }
  const fo = packet?.fanout;
  if (fo?.role === "template") {
    // Never dispatched: the first per-item phase is expanded (by the runner) once its
    // dependencies are done; the others are expanded with it.
    if (fo.position > 0) {
      return block({
        reason: "dependency",
        detail: `expanded with fan-out ${fo.first}`,
        waiting_on: [fo.first],
      });
    }
    const limit = Object.entries(state.gates)
      .filter(([g, gs]) => g.startsWith(`fanout-limit/${id}/`) && gs?.state === "open")
      .map(([g]) => g);
    if (limit.length > 0) {
      return block(
        {
          reason: "gate",
          detail: `more items than max_items ${fo.max_items}: waiting for a decision on ${limit.join(", ")}`,
          waiting_on: limit,
        },
        { waits: limit },
      );
    }
    return classified("expand", n);
  }
  const unapproved = (packet?.gates ?? []).filter((g) => gateState(g) !== "approved");
  if (unapproved.length > 0) {
    const rejected = unapproved.filter((g) => gateState(g) === "rejected");
    return block(
      {
        reason: "gate",
        detail:
          rejected.length > 0
            ? `gate ${rejected.join(", ")} was rejected; compile a plan without that need, or reopen it`
            : `waiting for approval of ${unapproved.join(", ")}`,
        waiting_on: unapproved,
      },
      { waits: unapproved.filter((g) => gateState(g) !== "rejected") },
    );
  }
  const completionGate = packet?.completion_gate;
  const runsWork = packet === undefined || packet.command !== undefined || packet.workers.length > 0;
  if (packet?.human_gate && completionGate && !runsWork) {
    const gs = gateState(completionGate);
    const b: BlockedPacket = {
      packet_id: id,
      reason: "gate",
      detail: `completes when ${completionGate} is approved`,
      waiting_on: [completionGate],
    };
    if (gs === "closed" || gs === "rejected") {
      return classified("open-gate", n, {
        blocked: b,
        openGate: {
          gate_id: completionGate,
          packets: [id],
          reason: `${id} is a human gate and everything it depends on is done`,
        },
      });
    }
    return classified("blocked", n, { blocked: b, waits: gs === "open" ? [completionGate] : NO_WAITS });
  }
  if (p.state === "repairing" && packet && p.repairs > packet.budget.max_retries) {
    return block(
      {
        reason: "budget",
        detail: `${p.repairs} repairs exceed budget.max_retries ${packet.budget.max_retries}`,
        waiting_on: [],
      },
      { budget: true },
    );
  }
  return classified("eligible", n, { dispatchKind: dispatchKind(p) });
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

/** The run-wide budget: attempts used against max_attempts, tokens against the token budget. */
export function exhaustion(policy: FrontierPolicy, attemptsUsed: number): "attempts" | "tokens" | null {
  const tokensUsed = policy.tokensUsed ?? 0;
  return policy.maxAttempts !== undefined && policy.maxAttempts !== null && attemptsUsed >= policy.maxAttempts
    ? "attempts"
    : policy.tokenBudget !== undefined && policy.tokenBudget !== null && tokensUsed >= policy.tokenBudget
      ? "tokens"
      : null;
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
  if (c.packets > 0 && c.completed === c.packets && c.unintegrated === 0) return "complete";
  if (c.inFlight > 0 || c.dispatch > 0 || c.openGates > 0 || c.expand > 0 || c.mergeable > 0)
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
  const cap = concurrencyCap(policy);

  const completed: string[] = [];
  const failed: string[] = [];
  const inFlight: string[] = [];
  const blocked: BlockedPacket[] = [];
  const candidates: Dispatchable[] = [];
  const openGates: GateToOpen[] = [];
  const waitingGates = new Set<string>();
  const expand: string[] = [];
  // Packets that cannot complete because something upstream failed.
  const doomed = new Set<string>();
  let unintegrated = 0;
  let mergeable = 0;
  let backoff = 0;
  let budgetBlocked = 0;

  let attemptsUsed = 0;
  for (const id of order) attemptsUsed += state.packets[id]?.attempts ?? 0;
  const tokensUsed = policy.tokensUsed ?? 0;
  const exhausted = exhaustion(policy, attemptsUsed);

  const ctx: ClassifyContext = { state, run, deps, itemsOf, isDoomed: (d) => doomed.has(d) };
  for (const id of order) {
    const c = classifyPacket(id, ctx);
    if (c.doomed) doomed.add(id);
    for (const g of c.waits) waitingGates.add(g);
    if (c.unintegrated) unintegrated++;
    if (c.mergeable) mergeable++;
    if (c.budget) budgetBlocked++;
    switch (c.kind) {
      case "completed":
        completed.push(id);
        break;
      case "failed":
        failed.push(id);
        break;
      case "in-flight":
        inFlight.push(id);
        break;
      case "expand":
        expand.push(id);
        break;
      case "open-gate":
        openGates.push(c.openGate as GateToOpen);
        blocked.push(c.blocked as BlockedPacket);
        break;
      case "blocked":
        blocked.push(c.blocked as BlockedPacket);
        break;
      case "eligible": {
        const p = state.packets[id] as PacketState;
        const nb = inBackoff(policy, id);
        if (nb !== null) {
          backoff++;
          blocked.push({
            packet_id: id,
            reason: "backoff",
            detail: `infrastructure retry ${p.infra_retries} waits until ${nb}`,
            waiting_on: [],
          });
        } else if (exhausted !== null) {
          budgetBlocked++;
          blocked.push({
            packet_id: id,
            reason: "budget",
            detail:
              exhausted === "attempts"
                ? `${attemptsUsed} attempts used of max ${policy.maxAttempts}`
                : `${tokensUsed} tokens used of budget ${policy.tokenBudget}`,
            waiting_on: [],
          });
        } else {
          candidates.push({
            packet_id: id,
            attempt: c.attempts + 1,
            kind: c.dispatchKind as Dispatchable["kind"],
          });
        }
        break;
      }
    }
  }

  // The attempt cap also bounds how many may start in this turn.
  const dispatch = candidates.slice(0, freeSlots(policy, cap, inFlight.length, attemptsUsed));
  const status = frontierStatus({
    packets: order.length,
    completed: completed.length,
    unintegrated,
    mergeable,
    inFlight: inFlight.length,
    dispatch: dispatch.length,
    openGates: openGates.length,
    expand: expand.length,
    backoff,
    candidates: candidates.length,
    budgetBlocked,
    waitingGates: waitingGates.size,
  });

  return {
    kind: "frontier",
    schema_version: "1",
    run_id: state.run_id,
    seq: state.seq,
    status,
    dispatch,
    ready: candidates.map((c) => c.packet_id),
    open_gates: openGates,
    expand,
    in_flight: inFlight,
    blocked,
    waiting_gates: [...waitingGates].sort(),
    failed,
    completed,
    budget: {
      concurrency_cap: cap,
      slots_free: Math.max(0, cap - inFlight.length),
      attempts_used: attemptsUsed,
      max_attempts: policy.maxAttempts ?? null,
      tokens_used: tokensUsed,
      token_budget: policy.tokenBudget ?? null,
      exhausted,
    },
  };
}
