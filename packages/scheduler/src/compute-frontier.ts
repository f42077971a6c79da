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
 */
export function computeFrontier(state: RunState, run: FrontierRun, policy: FrontierPolicy = {}): Frontier {
  checkPolicy(policy);
  if (state.run_id !== run.run.run_id) {
    throw schedulerErrors.create(
      "ERR_SCHEDULER_RUN_MISMATCH",
      `the state is of run ${state.run_id}, the run is ${run.run.run_id}`,
      { details: { state_run: state.run_id, run_id: run.run.run_id } },
    );
  }
  // Run order first (topological, then plan order), then packets only the journal knows.
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

  const cap = concurrencyCap(policy);
  const ps = (id: string) => state.packets[id];
  const gateState = (id: string) => state.gates[id]?.state ?? "closed";

  const completed: string[] = [];
  const failed: string[] = [];
  const inFlight: string[] = [];
  const blocked: BlockedPacket[] = [];
  const candidates: Dispatchable[] = [];
  const openGates: GateToOpen[] = [];
  const waitingGates = new Set<string>();
  // Packets that cannot complete because something upstream failed.
  const doomed = new Set<string>();
  // Completed packets whose work is not in the integration branch yet (merge pending or conflicting).
  const unintegrated: string[] = [];

  let attemptsUsed = 0;
  for (const id of order) attemptsUsed += ps(id)?.attempts ?? 0;
  const tokensUsed = policy.tokensUsed ?? 0;
  const exhausted: "attempts" | "tokens" | null =
    policy.maxAttempts !== undefined && policy.maxAttempts !== null && attemptsUsed >= policy.maxAttempts
      ? "attempts"
      : policy.tokenBudget !== undefined && policy.tokenBudget !== null && tokensUsed >= policy.tokenBudget
        ? "tokens"
        : null;

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

  /** Is packet `d` done for its dependents: completed, and its work merged (or nothing to merge)? */
  const oneDone = (d: string): { done: boolean; gate: string | null } => {
    const p = ps(d);
    if (p?.state !== "completed") return { done: false, gate: null };
    if (p.conflict_gate !== null) return { done: false, gate: p.conflict_gate };
    return { done: p.commit === null || p.merged_commit !== null, gate: null };
  };
  /**
   * Is dependency `d` done? An expanded fan-out template stands for its item packets:
   * it is done when every one of them is (the reduce waits for all items).
   */
  const templateLeft = new Map<string, number>();
  const depDone = (d: string): { done: boolean; gate: string | null } => {
    if (ps(d)?.state !== "expanded") return oneDone(d);
    let gate: string | null = null;
    let left = 0;
    for (const item of itemsOf.get(d) ?? []) {
      const r = oneDone(item);
      if (!r.done) left++;
      gate ??= r.gate;
    }
    templateLeft.set(d, left);
    return { done: left === 0, gate };
  };

  const expand: string[] = [];
  for (const id of order) {
    const p = ps(id) as PacketState;
    const packet = run.packets.get(id);
    const myDeps = deps.get(id) ?? [];
    if (p.state === "expanded") {
      // A fan-out template whose item packets exist: its work is theirs.
      completed.push(id);
      continue;
    }
    if (p.state === "completed") {
      completed.push(id);
      if (p.conflict_gate !== null) {
        unintegrated.push(id);
        if (gateState(p.conflict_gate) === "open") waitingGates.add(p.conflict_gate);
      } else if (p.commit !== null && p.merged_commit === null) unintegrated.push(id);
      continue;
    }
    if (p.state === "failed") {
      failed.push(id);
      doomed.add(id);
      continue;
    }
    if (IN_FLIGHT.has(p.state)) {
      inFlight.push(id);
      continue;
    }
    const failedUp = myDeps.filter((d) => doomed.has(d));
    if (failedUp.length > 0) {
      doomed.add(id);
      blocked.push({
        packet_id: id,
        reason: "upstream-failed",
        detail: `upstream ${failedUp.join(", ")} failed`,
        waiting_on: failedUp,
      });
      continue;
    }
    if (p.state === "needs-human" || p.state === "reviewed") {
      const holding = Object.entries(state.gates)
        .filter(([, g]) => g?.state === "open" && g.packets.includes(id))
        .map(([g]) => g);
      if (holding.length > 0) {
        for (const g of holding) waitingGates.add(g);
        blocked.push({
          packet_id: id,
          reason: "gate",
          detail: `waiting for a decision on ${holding.join(", ")}`,
          waiting_on: holding,
        });
      } else if (p.state === "reviewed" && p.last_verdict === "infra-failed") {
        blocked.push({
          packet_id: id,
          reason: "infra",
          detail: `attempt ${p.attempts} failed for infrastructure reasons (${p.last_outcome ?? "unknown"}) and no retry was scheduled`,
          waiting_on: [],
        });
      } else {
        blocked.push({
          packet_id: id,
          reason: "gate",
          detail: `reviewed ${p.last_verdict ?? "?"}; waiting for its gate to open`,
          waiting_on: packet?.completion_gate ? [packet.completion_gate] : [],
        });
      }
      continue;
    }
    // pending, repairing, abandoned
    const notDone: string[] = [];
    const conflictGates: string[] = [];
    for (const d of myDeps) {
      const r = depDone(d);
      if (!r.done) notDone.push(d);
      if (r.gate !== null) conflictGates.push(r.gate);
    }
    if (conflictGates.length > 0) {
      for (const g of conflictGates) if (gateState(g) === "open") waitingGates.add(g);
      blocked.push({
        packet_id: id,
        reason: "gate",
        detail: `upstream work could not be merged into the integration branch: ${conflictGates.join(", ")}`,
        waiting_on: conflictGates,
      });
      continue;
    }
    if (notDone.length > 0) {
      const unmerged = notDone.filter((d) => ps(d)?.state === "completed");
      const items = notDone.filter((d) => templateLeft.has(d));
      blocked.push({
        packet_id: id,
        reason: "dependency",
        detail:
          items.length > 0
            ? `waiting for ${items.map((d) => `${templateLeft.get(d)} of ${itemsOf.get(d)?.length ?? 0} items of ${d}`).join(", ")}${notDone.length > items.length ? ` and ${notDone.filter((d) => !templateLeft.has(d)).join(", ")}` : ""}`
            : unmerged.length === notDone.length
              ? `waiting for ${notDone.join(", ")} to be merged into the integration branch`
              : `waiting for ${notDone.join(", ")}`,
        waiting_on: notDone,
      });
      continue;
    }
    const fo = packet?.fanout;
    if (fo?.role === "template") {
      // Never dispatched: the first per-item phase is expanded (by the runner) once its
      // dependencies are done; the others are expanded with it.
      if (fo.position > 0) {
        blocked.push({
          packet_id: id,
          reason: "dependency",
          detail: `expanded with fan-out ${fo.first}`,
          waiting_on: [fo.first],
        });
        continue;
      }
      const limit = Object.entries(state.gates)
        .filter(([g, gs]) => g.startsWith(`fanout-limit/${id}/`) && gs?.state === "open")
        .map(([g]) => g);
      if (limit.length > 0) {
        for (const g of limit) waitingGates.add(g);
        blocked.push({
          packet_id: id,
          reason: "gate",
          detail: `more items than max_items ${fo.max_items}: waiting for a decision on ${limit.join(", ")}`,
          waiting_on: limit,
        });
        continue;
      }
      expand.push(id);
      continue;
    }
    const unapproved = (packet?.gates ?? []).filter((g) => gateState(g) !== "approved");
    if (unapproved.length > 0) {
      const rejected = unapproved.filter((g) => gateState(g) === "rejected");
      for (const g of unapproved) if (gateState(g) !== "rejected") waitingGates.add(g);
      blocked.push({
        packet_id: id,
        reason: "gate",
        detail:
          rejected.length > 0
            ? `gate ${rejected.join(", ")} was rejected; compile a plan without that need, or reopen it`
            : `waiting for approval of ${unapproved.join(", ")}`,
        waiting_on: unapproved,
      });
      continue;
    }
    const completionGate = packet?.completion_gate;
    const runsWork = packet === undefined || packet.command !== undefined || packet.workers.length > 0;
    if (packet?.human_gate && completionGate && !runsWork) {
      const gs = gateState(completionGate);
      if (gs === "closed" || gs === "rejected") {
        openGates.push({
          gate_id: completionGate,
          packets: [id],
          reason: `${id} is a human gate and everything it depends on is done`,
        });
      } else if (gs === "open") waitingGates.add(completionGate);
      blocked.push({
        packet_id: id,
        reason: "gate",
        detail: `completes when ${completionGate} is approved`,
        waiting_on: [completionGate],
      });
      continue;
    }
    if (p.state === "repairing" && packet && p.repairs > packet.budget.max_retries) {
      blocked.push({
        packet_id: id,
        reason: "budget",
        detail: `${p.repairs} repairs exceed budget.max_retries ${packet.budget.max_retries}`,
        waiting_on: [],
      });
      continue;
    }
    const nb = policy.notBefore?.[id];
    if (nb !== undefined && policy.now !== undefined && Date.parse(policy.now) < Date.parse(nb)) {
      blocked.push({
        packet_id: id,
        reason: "backoff",
        detail: `infrastructure retry ${p.infra_retries} waits until ${nb}`,
        waiting_on: [],
      });
      continue;
    }
    if (exhausted !== null) {
      blocked.push({
        packet_id: id,
        reason: "budget",
        detail:
          exhausted === "attempts"
            ? `${attemptsUsed} attempts used of max ${policy.maxAttempts}`
            : `${tokensUsed} tokens used of budget ${policy.tokenBudget}`,
        waiting_on: [],
      });
      continue;
    }
    candidates.push({ packet_id: id, attempt: p.attempts + 1, kind: dispatchKind(p) });
  }

  // The attempt cap also bounds how many may start in this turn.
  let slots = Math.max(0, cap - inFlight.length);
  if (policy.maxAttempts !== undefined && policy.maxAttempts !== null) {
    slots = Math.min(slots, Math.max(0, policy.maxAttempts - attemptsUsed));
  }
  const dispatch = candidates.slice(0, slots);

  const gatesHold = waitingGates.size > 0;
  let status: FrontierStatus;
  if (order.length > 0 && completed.length === order.length && unintegrated.length === 0) status = "complete";
  else if (
    inFlight.length > 0 ||
    dispatch.length > 0 ||
    openGates.length > 0 ||
    expand.length > 0 ||
    unintegrated.some((id) => ps(id)?.conflict_gate === null)
  )
    status = "running";
  else if (blocked.some((b) => b.reason === "backoff")) status = "waiting";
  else if (candidates.length > 0 || blocked.some((b) => b.reason === "budget")) status = "budget";
  else if (gatesHold) status = "gate";
  else status = "failed";

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
