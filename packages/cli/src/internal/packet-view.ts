import fs from "node:fs";
import path from "node:path";
import type {
  NextAction,
  Packet,
  PacketAttemptDetail,
  PacketDetail,
  PacketGateRow,
  RunState,
  WorkerBindings,
} from "@dwm/schemas";
import { attemptDetail, journaledAttempts } from "./evidence.js";
import type { LockHolder } from "./lock-holder.js";
import { bindingOf, sumCost } from "./prices.js";
import { dependencyMap, type RunModel } from "./run-model.js";

/** How a packet is named in the views: its state as `dwm status` shows it. */
type Shown = PacketDetail["state"];

/** Gates that hold a packet: its compiled ones, and any gate (compiled or opened at run time) listing it. */
export function gatesOf(model: RunModel, packet: Packet): PacketGateRow[] {
  const ids = new Set(packet.gates);
  for (const [id, g] of model.loaded.gates) if (g.packets.includes(packet.packet_id)) ids.add(id);
  for (const [id, g] of Object.entries(model.state.gates))
    if (g?.packets.includes(packet.packet_id)) ids.add(id);
  return [...ids].map((gate_id) => ({ gate_id, state: model.state.gates[gate_id]?.state ?? "closed" }));
}

/** A packet's state as shown: a pending one is ready (nothing holds it) or blocked. */
export function shownStateOf(
  state: RunState,
  id: string,
  gates: readonly PacketGateRow[],
  deps: readonly string[],
): Shown {
  const folded = state.packets[id]?.state ?? "pending";
  if (folded !== "pending") return folded;
  const held = gates.some((g) => g.state !== "approved");
  const waiting = deps.some((d) => !isDone(state, d));
  return held || waiting ? "blocked" : "ready";
}

/** A dependency is done when completed; an expanded fan-out template, when every item packet of it is. */
export function isDone(state: RunState, id: string): boolean {
  const st = state.packets[id]?.state;
  if (st !== "expanded") return st === "completed";
  return Object.values(state.fanouts ?? {}).every((f) =>
    (f?.packets ?? [])
      .filter((item) => item.template === id)
      .every((item) => state.packets[item.packet_id]?.state === "completed"),
  );
}

/** Where the operator's inputs for the next step are: the run's reference and, when found, the plan file. */
export interface NextContext {
  /** `<run_id>`, plus ` --store DIR` when one was given. */
  ref: string;
  holder: LockHolder | null;
  /** The plan file of this run, relative to the current directory, when one was found. */
  planFile: string | null;
}

/** The next step for one packet, by its state: wait for a live runner, nothing, fix and rerun, decide its gate, or run. */
export function packetNextAction(
  id: string,
  shown: Shown,
  gates: readonly PacketGateRow[],
  reason: string | null,
  ctx: NextContext,
): NextAction {
  if (ctx.holder) {
    return {
      kind: "wait",
      summary: `A runner (pid ${ctx.holder.pid} on ${ctx.holder.host}) is working on this run; watch it.`,
      command: `dwm status ${ctx.ref}`,
    };
  }
  if (shown === "completed") {
    return {
      kind: "complete",
      summary: `Packet ${id} is completed: its evidence passed review.`,
      command: null,
    };
  }
  if (shown === "failed") return failedNext(id, reason, ctx);
  const open = gates.find((g) => g.state === "open");
  if (open) {
    return {
      kind: "approve",
      summary: `Gate ${open.gate_id} holds ${id} and waits for a decision: review it (dwm gates ${ctx.ref}), then approve it or reject it with a reason.`,
      command: `dwm approve ${ctx.ref.replace(/^(\S+)/, `$1 ${open.gate_id}`)}`,
    };
  }
  return {
    kind: "run",
    summary: `Packet ${id} is ${shown}; running the workflow moves it on.`,
    command: `dwm run ${ctx.ref}`,
  };
}

/**
 * A failed packet runs again only when a compile changes it (the journal reopens it): a fix in
 * the plan is picked up by running the plan; a fix in a binding or the code needs a fresh run.
 */
function failedNext(id: string, reason: string | null, ctx: NextContext): NextAction {
  const why = reason ? ` (${reason})` : "";
  const fresh = ctx.planFile ? `(dwm compile ${ctx.planFile} --new)` : "(compile the plan with --new)";
  const fix = `Fix the cause${why}. A fix in the plan: run the plan again, and ${id} runs again as it changed. A fix in a worker's binding or in the code: start a fresh run ${fresh}.`;
  return {
    kind: "inspect-failed",
    summary: ctx.planFile ? `${fix} Run the plan:` : fix,
    command: ctx.planFile ? `dwm run ${ctx.planFile}` : null,
  };
}

/** The plan file of a run: a `*.plan.json` in the current directory or at the repository root whose plan_id is the run's. */
export function findPlanFile(planId: string, cwd: string, root: string): string | null {
  for (const dir of [...new Set([cwd, root])]) {
    let names: string[];
    try {
      names = fs
        .readdirSync(dir)
        .filter((n) => n.endsWith(".plan.json"))
        .sort();
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const plan = JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")) as { plan_id?: unknown };
        if (plan.plan_id === planId) return path.relative(cwd, path.join(dir, n)) || n;
      } catch {
        // not a plan this run came from
      }
    }
  }
  return null;
}

/** The operator's view of one packet: what it is, every attempt (or the one asked for), its cost and the next step. */
export function packetDetail(
  model: RunModel,
  runDir: string,
  packet: Packet,
  bindings: WorkerBindings | null,
  next: NextContext,
  onlyAttempt?: number,
): PacketDetail {
  const id = packet.packet_id;
  const deps = dependencyMap(model);
  const gates = gatesOf(model, packet);
  const shown = shownStateOf(model.state, id, gates, deps.get(id) ?? []);
  const p = model.state.packets[id];
  const journaled = journaledAttempts(model.events, id);
  const numbers = [...new Set([...journaled.keys(), ...attemptNumbers(p?.attempts ?? 0)])].sort(
    (a, b) => a - b,
  );
  const attempts: PacketAttemptDetail[] = numbers.map((n) =>
    attemptDetail(runDir, id, n, journaled.get(n), bindings),
  );
  const reason = p?.reason ?? null;
  return {
    kind: "packet-detail",
    schema_version: "1",
    run_id: model.loaded.run.run_id,
    packet_id: id,
    state: shown,
    reason,
    phase: { id: packet.phase.id, name: packet.phase.name ?? null },
    workers: packet.workers.map((w) => {
      const b = bindingOf(bindings, w.id);
      return {
        worker_id: w.id,
        role: w.role ?? null,
        ownership: [...(w.ownership ?? [])],
        backend: b?.backend ?? null,
        model: b?.model ?? null,
      };
    }),
    depends_on: deps.get(id) ?? [],
    dependents: [...deps].filter(([, d]) => d.includes(id)).map(([k]) => k),
    gates,
    fanout_from: p?.fanout_from ?? null,
    attempts: onlyAttempt === undefined ? attempts : attempts.filter((a) => a.attempt === onlyAttempt),
    cost: sumCost(attempts),
    next_action: packetNextAction(id, shown, gates, reason, next),
  };
}

function attemptNumbers(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i + 1);
}
