// The steps of classifyPacket: each looks at one thing about a packet and either
// decides its class (a Classified) or passes (null) to the next step.
import type { BlockedPacket, Dispatchable, GateState, Packet, PacketState, RunState } from "@dwm/schemas";
import type { Classified, ClassifyContext } from "../compute-frontier.js";

/** One packet as classifyPacket reads it. */
export interface PacketLook {
  id: string;
  p: PacketState;
  /** The compiled packet; undefined for a packet only the journal knows. */
  packet: Packet | undefined;
  ctx: ClassifyContext;
}

const IN_FLIGHT = new Set<PacketState["state"]>(["dispatched", "attempted"]);
const NO_WAITS: readonly string[] = [];

/** A reopened packet's reason names the gate whose rejection reopened it. */
const REOPENED_BY_GATE = /^gate \S+ rejected: /;

/** A classification with every flag off unless `extra` sets it. */
export function classified(
  kind: Classified["kind"],
  attempts: number,
  extra: Partial<Classified> = {},
): Classified {
  return {
    kind,
    attempts,
    doomed: false,
    unintegrated: false,
    mergeable: false,
    blocked: null,
    openGate: null,
    skip: null,
    waits: NO_WAITS,
    dispatchKind: null,
    budget: false,
    ...extra,
  };
}

function gateState(state: RunState, g: string): GateState["state"] {
  return state.gates[g]?.state ?? "closed";
}

function block(
  look: PacketLook,
  b: Omit<BlockedPacket, "packet_id">,
  extra: Partial<Classified> = {},
): Classified {
  return classified("blocked", look.p.attempts, { blocked: { packet_id: look.id, ...b }, ...extra });
}

/** Why a packet is dispatched again (informational: the attempt is the same either way). */
export function dispatchKind(p: PacketState): Dispatchable["kind"] {
  if (p.state === "repairing") return "repair";
  if (p.state === "abandoned") return "retry";
  if (p.attempts === 0) return p.reopens > 0 ? "rework" : "first";
  if (p.reason !== null && REOPENED_BY_GATE.test(p.reason)) return "rework";
  return p.infra_retries > 0 ? "retry" : "rework";
}

/** Expanded, completed (merged, mergeable or held by a conflict gate), failed, in flight: nothing to wait for. */
export function settled(look: PacketLook): Classified | null {
  const { p, ctx } = look;
  const n = p.attempts;
  // A fan-out template whose item packets exist: its work is theirs.
  if (p.state === "expanded") return classified("completed", n);
  // The run went on without it (packet.skipped): settled, until nothing skips it any more.
  if (p.state === "skipped") return classified(stillSkipped(look) ? "skipped" : "unskip", n);
  if (p.state === "completed") {
    if (p.conflict_gate !== null) {
      return classified("completed", n, {
        unintegrated: true,
        waits: gateState(ctx.state, p.conflict_gate) === "open" ? [p.conflict_gate] : NO_WAITS,
      });
    }
    const unintegrated = p.commit !== null && p.merged_commit === null;
    return classified("completed", n, { unintegrated, mergeable: unintegrated });
  }
  if (p.state === "failed") return classified("failed", n, { doomed: true });
  if (IN_FLIGHT.has(p.state)) return classified("in-flight", n);
  return null;
}

/** A dependency that is doomed dooms the packet. */
export function upstreamFailed(look: PacketLook): Classified | null {
  const { id, ctx } = look;
  const failedUp = (ctx.deps.get(id) ?? []).filter((d) => ctx.isDoomed(d, id));
  if (failedUp.length === 0) return null;
  return block(
    look,
    { reason: "upstream-failed", detail: `upstream ${failedUp.join(", ")} failed`, waiting_on: failedUp },
    { doomed: true },
  );
}

/** Reviewed or needs-human: it waits for a gate's decision, or for an infrastructure retry nobody scheduled. */
export function awaitingDecision(look: PacketLook): Classified | null {
  const { id, p, packet, ctx } = look;
  if (p.state !== "needs-human" && p.state !== "reviewed") return null;
  const holding =
    ctx.openGates !== undefined
      ? [...(ctx.openGates.get(id) ?? [])]
      : Object.entries(ctx.state.gates)
          .filter(([, g]) => g?.state === "open" && g.packets.includes(id))
          .map(([g]) => g);
  if (holding.length > 0) {
    return block(
      look,
      { reason: "gate", detail: `waiting for a decision on ${holding.join(", ")}`, waiting_on: holding },
      { waits: holding },
    );
  }
  if (p.state === "reviewed" && p.last_verdict === "infra-failed") {
    return block(look, {
      reason: "infra",
      detail: `attempt ${p.attempts} failed for infrastructure reasons (${p.last_outcome ?? "unknown"}) and no retry was scheduled`,
      waiting_on: [],
    });
  }
  return block(look, {
    reason: "gate",
    detail: `reviewed ${p.last_verdict ?? "?"}; waiting for its gate to open`,
    waiting_on: packet?.completion_gate ? [packet.completion_gate] : [],
  });
}

/** The skipped packets `id` depends on: a skipped dependency, or a skipped item of an expanded fan-out. */
function skippedDependencies(id: string, ctx: ClassifyContext): string[] {
  const out: string[] = [];
  for (const d of ctx.deps.get(id) ?? []) {
    const members = ctx.state.packets[d]?.state === "expanded" ? (ctx.itemsOf.get(d) ?? []) : [d];
    for (const m of members) if (ctx.state.packets[m]?.state === "skipped") out.push(m);
  }
  return out;
}

/** A skipped packet stays skipped while a skip gate holding it is not approved or a packet it depends on is skipped. */
function stillSkipped({ id, packet, ctx }: PacketLook): boolean {
  const skipGate = (packet?.gates ?? []).some(
    (g) => ctx.run.gates.get(g)?.default_action === "skip" && gateState(ctx.state, g) !== "approved",
  );
  return skipGate || skippedDependencies(id, ctx).length > 0;
}

/** Pending, and a packet it depends on was skipped: it cannot run without that work, so it is skipped too. */
export function skippedUpstream(look: PacketLook): Classified | null {
  const { id, p, ctx } = look;
  if (p.state !== "pending") return null;
  const upstream = skippedDependencies(id, ctx);
  if (upstream.length === 0) return null;
  return classified("skip", p.attempts, {
    skip: { packet_id: id, gates: [], upstream, reason: `it depends on skipped ${upstream.join(", ")}` },
  });
}

/** Is packet `d` done for its dependents: completed, and its work merged (or nothing to merge)? */
function oneDone(state: RunState, d: string): { done: boolean; gate: string | null } {
  const p = state.packets[d];
  if (p?.state !== "completed") return { done: false, gate: null };
  if (p.conflict_gate !== null) return { done: false, gate: p.conflict_gate };
  return { done: p.commit === null || p.merged_commit !== null, gate: null };
}

/** Where a packet's dependencies stand. */
export interface DependencyProgress {
  notDone: string[];
  /** Conflict gates holding a dependency's (or a dependency's item's) work. */
  conflictGates: string[];
  /** For each expanded fan-out template among the dependencies: how many of its items are not done. */
  itemsLeft: Map<string, number>;
}

/**
 * Where `id`'s dependencies stand. An expanded fan-out template stands for its item
 * packets: it is done when every one of them is (the reduce waits for all items).
 */
export function dependencyProgress(id: string, ctx: ClassifyContext): DependencyProgress {
  const out: DependencyProgress = { notDone: [], conflictGates: [], itemsLeft: new Map() };
  for (const d of ctx.deps.get(id) ?? []) {
    let r: { done: boolean; gate: string | null };
    if (ctx.state.packets[d]?.state === "expanded") {
      let gate: string | null = null;
      let left = 0;
      for (const item of ctx.itemsOf.get(d) ?? []) {
        const ri = oneDone(ctx.state, item);
        if (!ri.done) left++;
        gate ??= ri.gate;
      }
      out.itemsLeft.set(d, left);
      r = { done: left === 0, gate };
    } else r = oneDone(ctx.state, d);
    if (!r.done) out.notDone.push(d);
    if (r.gate !== null) out.conflictGates.push(r.gate);
  }
  return out;
}

/** What a packet waiting for `notDone` waits for, in words: items of fan-outs, merges, or packets. */
function dependencyDetail({ notDone, itemsLeft }: DependencyProgress, ctx: ClassifyContext): string {
  const items = notDone.filter((d) => itemsLeft.has(d));
  if (items.length > 0) {
    const counts = items.map(
      (d) => `${itemsLeft.get(d)} of ${ctx.itemsOf.get(d)?.length ?? 0} items of ${d}`,
    );
    const others = notDone.filter((d) => !itemsLeft.has(d));
    return `waiting for ${counts.join(", ")}${others.length > 0 ? ` and ${others.join(", ")}` : ""}`;
  }
  const unmerged = notDone.filter((d) => ctx.state.packets[d]?.state === "completed");
  return unmerged.length === notDone.length
    ? `waiting for ${notDone.join(", ")} to be merged into the integration branch`
    : `waiting for ${notDone.join(", ")}`;
}

/** Pending, repairing or abandoned, and something it depends on is not done (or not merged). */
export function unfinishedDependencies(look: PacketLook): Classified | null {
  const { id, ctx } = look;
  const progress = dependencyProgress(id, ctx);
  const { notDone, conflictGates } = progress;
  if (conflictGates.length > 0) {
    return block(
      look,
      {
        reason: "gate",
        detail: `upstream work could not be merged into the integration branch: ${conflictGates.join(", ")}`,
        waiting_on: conflictGates,
      },
      { waits: conflictGates.filter((g) => gateState(ctx.state, g) === "open") },
    );
  }
  if (notDone.length === 0) return null;
  return block(look, { reason: "dependency", detail: dependencyDetail(progress, ctx), waiting_on: notDone });
}

/**
 * A fan-out template is never dispatched: the first per-item phase is expanded (by the
 * runner) once its dependencies are done, unless a fan-out limit gate waits; the others
 * are expanded with it.
 */
export function fanoutTemplate(look: PacketLook): Classified | null {
  const { id, p, packet, ctx } = look;
  const fo = packet?.fanout;
  if (fo?.role !== "template") return null;
  if (fo.position > 0) {
    return block(look, {
      reason: "dependency",
      detail: `expanded with fan-out ${fo.first}`,
      waiting_on: [fo.first],
    });
  }
  const limit = Object.entries(ctx.state.gates)
    .filter(([g, gs]) => g.startsWith(`fanout-limit/${id}/`) && gs?.state === "open")
    .map(([g]) => g);
  if (limit.length > 0) {
    return block(
      look,
      {
        reason: "gate",
        detail: `more items than max_items ${fo.max_items}: waiting for a decision on ${limit.join(", ")}`,
        waiting_on: limit,
      },
      { waits: limit },
    );
  }
  return classified("expand", p.attempts);
}

/**
 * A rejected gate the packet was sent back past: the packet was reopened after the rejection (its
 * rework, or a recompile), so the gate is asked again before the reworked packet runs.
 */
function reaskable(look: PacketLook, g: string): boolean {
  const gs = look.ctx.state.gates[g];
  return gs?.state === "rejected" && look.p.state === "pending" && look.p.reopens > 0 && look.p.seq > gs.seq;
}

/**
 * Every gate still holding the packet says `skip` while it is not approved (a rejected one too:
 * the operator's no is the case the plan provided for): the run goes on without the packet.
 */
function skipGates(look: PacketLook, unapproved: readonly string[]): Classified | null {
  const { id, p, ctx } = look;
  if (p.state !== "pending") return null;
  if (!unapproved.every((g) => ctx.run.gates.get(g)?.default_action === "skip")) return null;
  return classified("skip", p.attempts, {
    skip: {
      packet_id: id,
      gates: [...unapproved],
      upstream: [],
      reason: `${unapproved.join(", ")} not approved, and the plan's safe default is to skip it`,
    },
  });
}

/** A gate of the packet not approved yet (a rejected one waits for a new plan or a reopen). */
export function unapprovedGates(look: PacketLook): Classified | null {
  const { id, packet, ctx } = look;
  const unapproved = (packet?.gates ?? []).filter((g) => gateState(ctx.state, g) !== "approved");
  if (unapproved.length === 0) return null;
  const again = unapproved.find((g) => reaskable(look, g));
  if (again !== undefined) {
    return classified("open-gate", look.p.attempts, {
      blocked: {
        packet_id: id,
        reason: "gate",
        detail: `waiting for approval of ${unapproved.join(", ")}`,
        waiting_on: unapproved,
      },
      openGate: {
        gate_id: again,
        packets: [id],
        reason: `${id} was sent back after ${again} was rejected; the gate is asked again before it runs`,
      },
    });
  }
  const skipping = skipGates(look, unapproved);
  if (skipping !== null) return skipping;
  const rejected = unapproved.filter((g) => gateState(ctx.state, g) === "rejected");
  return block(
    look,
    {
      reason: "gate",
      detail:
        rejected.length > 0
          ? `gate ${rejected.join(", ")} was rejected; compile a plan without that need, or reopen it`
          : `waiting for approval of ${unapproved.join(", ")}`,
      waiting_on: unapproved,
    },
    { waits: unapproved.filter((g) => gateState(ctx.state, g) !== "rejected") },
  );
}

/** A human-gate phase without work of its own completes by approval: its gate is opened, then awaited. */
export function humanGatePhase(look: PacketLook): Classified | null {
  const { id, p, packet, ctx } = look;
  const completionGate = packet?.completion_gate;
  const runsWork = packet === undefined || packet.command !== undefined || packet.workers.length > 0;
  if (!packet?.human_gate || !completionGate || runsWork) return null;
  const gs = gateState(ctx.state, completionGate);
  const b: BlockedPacket = {
    packet_id: id,
    reason: "gate",
    detail: `completes when ${completionGate} is approved`,
    waiting_on: [completionGate],
  };
  if (gs === "closed" || gs === "rejected") {
    return classified("open-gate", p.attempts, {
      blocked: b,
      openGate: {
        gate_id: completionGate,
        packets: [id],
        reason: `${id} is a human gate and everything it depends on is done`,
      },
    });
  }
  return classified("blocked", p.attempts, {
    blocked: b,
    waits: gs === "open" ? [completionGate] : NO_WAITS,
  });
}

/** A repair beyond budget.max_retries is not dispatched. */
export function repairBudgetSpent(look: PacketLook): Classified | null {
  const { p, packet } = look;
  if (p.state !== "repairing" || !packet || p.repairs <= packet.budget.max_retries) return null;
  return block(
    look,
    {
      reason: "budget",
      detail: `${p.repairs} repairs exceed budget.max_retries ${packet.budget.max_retries}`,
      waiting_on: [],
    },
    { budget: true },
  );
}
