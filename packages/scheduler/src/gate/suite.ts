// The scheduler's manifest gate: each case of fixtures/scheduler/manifest.json takes a
// compiled run (run.json, packets, gates), folds a history of journal events into its
// state with the runtime's foldJournal, and asks computeFrontier what runs next.
import path from "node:path";
import { digest } from "@dwm/core";
import { foldJournal } from "@dwm/runtime";
import type { Frontier, Gate, JournalEvent, Packet, Run, RunState } from "@dwm/schemas";
import {
  applyEdits,
  type GateCase,
  type GateSuite,
  HistoryPlayer,
  type HistoryStep,
  type JsonEdit,
  readJson,
} from "@dwm/test-utils";
import { computeFrontier, type FrontierPolicy, type FrontierRun, planLimits } from "../index.js";

interface SchedulerCase extends GateCase {
  /** A folder below fixtures/scheduler with run.json, packets/<id>.json and gates/<id>.json. */
  run: string;
  /** The run's history (see HistoryPlayer), folded into the state. */
  history?: HistoryStep[];
  /** Edits of the folded state (bad inputs). */
  state_edits?: JsonEdit[];
  /** Edits of a packet before the frontier is computed: packet id → edits. */
  packet_edits?: Record<string, JsonEdit[]>;
  /** The frontier policy; `plan` reads the caps from a plan file (planLimits). */
  policy?: FrontierPolicy & { plan?: string };
}

function loadRun(dir: string, edits: Record<string, JsonEdit[]> = {}): FrontierRun {
  const run = readJson<Run>(path.join(dir, "run.json"));
  const packets = new Map<string, Packet>();
  for (const p of run.packets) {
    const packet = readJson<Packet>(path.join(dir, "packets", `${p.packet_id}.json`));
    packets.set(p.packet_id, applyEdits(packet, edits[p.packet_id]));
  }
  const gates = new Map<string, Gate>();
  for (const g of run.gates)
    gates.set(g.gate_id, readJson<Gate>(path.join(dir, "gates", `${g.gate_id}.json`)));
  return { run, packets, gates };
}

function policyOf(c: SchedulerCase, fixtures: string): FrontierPolicy {
  const { plan, ...policy } = c.policy ?? {};
  if (!plan) return policy;
  const limits = planLimits(readJson(path.join(fixtures, plan)));
  return { planConcurrencyCap: limits.concurrencyCap, maxAgents: limits.maxAgents, ...policy };
}

/** What a case can name in `expect`, besides the frontier's own fields. */
function observe(f: Frontier): Record<string, unknown> {
  return {
    status: f.status,
    dispatch: f.dispatch.map((d) => `${d.packet_id}#${d.attempt}:${d.kind}`),
    ready: f.ready,
    open_gates: f.open_gates.map((g) => g.gate_id),
    in_flight: f.in_flight,
    blocked: f.blocked.map((b) => `${b.packet_id}:${b.reason}:${b.waiting_on.join(",")}`),
    waiting_gates: f.waiting_gates,
    failed: f.failed,
    completed: f.completed,
    budget: f.budget,
  };
}

/** The scheduler's gate suite. */
export const schedulerGate: GateSuite<SchedulerCase> = {
  name: "scheduler",
  caseKeys: ["run", "history", "state_edits", "packet_edits", "policy"],
  minCases: 15,
  async runCase(c, ctx) {
    const run = loadRun(path.join(ctx.fixtures, c.run), c.packet_edits);
    const events = new HistoryPlayer(run.run, {
      gatePackets: (id) => run.gates.get(id)?.packets ?? [],
    }).events(c.history ?? []);
    const folded = foldJournal(events as unknown as JournalEvent[], run.run);
    const state = applyEdits<RunState>(folded, c.state_edits);
    const policy = policyOf(c, ctx.fixtures);
    const frontier = await ctx.outcome(() => computeFrontier(state, run, policy));
    if (frontier === undefined) return;
    ctx.checkAll(observe(frontier));
    ctx.golden("frontier", digest(frontier));
    // The frontier is a function of its inputs: asking twice gives the same bytes.
    if (digest(computeFrontier(state, run, policy)) !== digest(frontier)) ctx.fail("a second call differs");
  },
};
