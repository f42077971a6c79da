import { canonicalArtifact, checkRelativePath, type Digest, digestBytes, MinHeap } from "@dwm/core";
import type {
  Gate,
  GateCategory,
  HandoffFormat,
  Packet,
  PacketCommand,
  PacketInput,
  PacketOutput,
  PacketWorker,
  RunHandoffEntry,
} from "@dwm/schemas";
import { compilerErrors } from "../errors.js";
import { attachGates, deriveGates, gateIds } from "./gates.js";
import type { PlanPhaseView, PlanView, PlanWorkerView } from "./plan.js";
import { renderPrompt } from "./prompt.js";

/** The compiled content of a run, before it is written: pure data. */
export interface BuiltRun {
  /** Packets in run order: topological, ties in plan order. */
  packets: Packet[];
  packetDigests: Map<string, Digest>;
  /** Each packet's file (its canonical rendering), made with its digest in one pass. */
  packetFiles: Map<string, string>;
  prompts: Map<string, string>;
  promptDigests: Map<string, Digest>;
  gates: Gate[];
  gateDigests: Map<string, Digest>;
  /** Each gate's file (its canonical rendering). */
  gateFiles: Map<string, string>;
  handoffs: RunHandoffEntry[];
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/** Phase ids in topological order; among phases ready at the same time, plan order first. */
export function topologicalOrder(phases: readonly PlanPhaseView[]): PlanPhaseView[] {
  const index = new Map(phases.map((p, i) => [p.id, i]));
  const indegree = phases.map((p) => unique(p.depends_on).filter((d) => index.has(d)).length);
  const children = phases.map(() => [] as number[]);
  phases.forEach((p, i) => {
    for (const d of unique(p.depends_on)) {
      const j = index.get(d);
      if (j !== undefined) children[j]?.push(i);
    }
  });
  const ready = new MinHeap();
  indegree.forEach((d, i) => {
    if (d === 0) ready.push(i);
  });
  const order: PlanPhaseView[] = [];
  while (ready.size > 0) {
    const i = ready.pop() as number;
    order.push(phases[i] as PlanPhaseView);
    for (const c of children[i] ?? []) {
      const left = (indegree[c] as number) - 1;
      indegree[c] = left;
      if (left === 0) ready.push(c);
    }
  }
  if (order.length !== phases.length) {
    // The evaluator rejects cycles; reaching this means it and the compiler disagree.
    throw compilerErrors.create("ERR_PLAN_INVALID", "the phase graph has a cycle", {
      details: { problems: [{ code: "ERR_PLAN_GRAPH_CYCLE", pointer: "/phases" }] },
    });
  }
  return order;
}

function isHumanGatePhase(phase: PlanPhaseView): boolean {
  return phase.id === "human_gate" || phase.kind === "human-gate" || phase.kind === "gate";
}

function packetWorker(w: PlanWorkerView): PacketWorker {
  const t = w.tool_permissions;
  const b = w.context_budget;
  const c = w.prompt_contract;
  return {
    id: w.id,
    role: w.role,
    tool_permissions: {
      read: t.read,
      write: t.write,
      shell: t.shell,
      network: t.network,
      mcp_connectors: [...t.mcp_connectors],
      requires_escalation_for: [...t.requires_escalation_for],
    },
    ownership: [...w.ownership],
    forbidden_actions: [...w.forbidden_actions],
    prompt_contract: {
      inputs: [...c.inputs],
      required_output_schema: c.required_output_schema,
      stop_conditions: [...c.stop_conditions],
    },
    context_budget: {
      max_files: b.max_files,
      max_tokens: b.max_tokens,
      must_include: [...b.must_include],
      must_exclude: [...b.must_exclude],
    },
  };
}

/** A non-empty list of non-empty strings, copied; null otherwise. */
function argvOf(v: unknown): [string, ...string[]] | null {
  if (!Array.isArray(v) || v.length === 0 || !v.every((a) => typeof a === "string" && a.length > 0))
    return null;
  return [...(v as string[])] as [string, ...string[]];
}

function argvCommand(v: unknown): PacketCommand | null {
  const argv = argvOf(v);
  return argv ? { argv } : null;
}

/** Schema 0.6: `{ run: [argv...] }` runs without a shell; `{ run: "text", shell: true }` with one. */
function runCommand(o: { run?: unknown; shell?: unknown }): PacketCommand | null {
  const argv = argvCommand(o.run);
  if (argv) return argv;
  if (typeof o.run === "string" && o.run.trim() !== "" && o.shell === true) return { script: o.run };
  return null;
}

/** `{ argv | script | shell, timeout_ms? }`. */
function objectCommand(o: {
  argv?: unknown;
  script?: unknown;
  shell?: unknown;
  timeout_ms?: unknown;
}): PacketCommand | null {
  const timeout = typeof o.timeout_ms === "number" ? { timeout_ms: o.timeout_ms } : {};
  const argv = argvOf(o.argv);
  if (argv) return { argv, ...timeout };
  const script = typeof o.script === "string" ? o.script : typeof o.shell === "string" ? o.shell : undefined;
  return script ? { script, ...timeout } : null;
}

/**
 * A command phase's command in the packet's one form (argv without a shell, or a
 * script with one), from any of the plan's spellings; none for a phase without one.
 */
export function packetCommand(raw: unknown, phaseId: string): PacketCommand | undefined {
  if (raw === undefined || raw === null) return undefined;
  let command: PacketCommand | null = null;
  if (Array.isArray(raw)) command = argvCommand(raw);
  else if (typeof raw === "string") command = { script: raw };
  else if (typeof raw === "object") command = "run" in raw ? runCommand(raw) : objectCommand(raw);
  if (command) return command;
  throw compilerErrors.create(
    "ERR_PLAN_INVALID",
    `phase ${phaseId}: command must be an argv list or a script`,
    {
      details: { problems: [{ code: "ERR_PLAN_SCHEMA", pointer: `/phases/${phaseId}/command` }] },
    },
  );
}

/**
 * A verification item applies to the packets whose outputs it names (its claim or an
 * evidence entry is the artifact path or ends with `/<artifact>`); an item that names
 * no packet's output applies where the plan ends (packets nothing depends on).
 */
function assignVerification(plan: PlanView, packets: Packet[], sinks: ReadonlySet<string>): void {
  const producers = new Map<string, Packet[]>();
  for (const p of packets) {
    for (const o of p.outputs) {
      const l = producers.get(o.artifact) ?? [];
      if (!l.includes(p)) l.push(p);
      producers.set(o.artifact, l);
    }
  }
  const byPacket = new Map<Packet, number[]>();
  plan.verification.forEach((v, i) => {
    const hits = new Set<Packet>();
    for (const entry of [v.claim_or_output, ...v.evidence_required]) {
      const e = entry.trim();
      // The entry itself and every suffix after a slash are candidate artifact paths.
      const candidates = [e];
      for (let k = e.indexOf("/"); k !== -1; k = e.indexOf("/", k + 1)) candidates.push(e.slice(k + 1));
      for (const c of candidates) for (const p of producers.get(c) ?? []) hits.add(p);
    }
    const targets = hits.size > 0 ? [...hits] : packets.filter((p) => sinks.has(p.packet_id));
    for (const p of targets) {
      const l = byPacket.get(p) ?? [];
      l.push(i);
      byPacket.set(p, l);
    }
  });
  for (const [p, idx] of byPacket) {
    p.verification = idx.map((i) => {
      const v = plan.verification[i] as PlanView["verification"][number];
      return {
        claim_or_output: v.claim_or_output,
        falsifier: v.falsifier,
        evidence_required: [...v.evidence_required],
      };
    });
  }
}

function deriveInstruction(phase: PlanPhaseView): string {
  if (typeof phase.instruction === "string" && phase.instruction.trim() !== "") return phase.instruction;
  return `Carry out phase "${phase.name}" (${phase.id}): meet every exit criterion and produce every expected output listed in this packet.`;
}

function fanoutProblem(phase: string, message: string): Error {
  return compilerErrors.create("ERR_PLAN_INVALID", `phase ${phase}: ${message}`, {
    details: { problems: [{ code: "ERR_PLAN_FANOUT", pointer: `/phases/${phase}/fan_out`, message }] },
  });
}

/**
 * Schema 0.6 fan-out: the phase carrying `fan_out` and its pipeline phases become
 * template packets (`fanout.role: "template"`). Nothing about the items is known
 * here: the run expands a template when its source packet completes, so the
 * compiled run stays reproducible. Per-item phases cannot be gate phases (an item
 * has no compiled completion gate).
 */
function markFanouts(plan: PlanView, packets: Packet[]): void {
  const byId = new Map(packets.map((p) => [p.packet_id, p]));
  for (const phase of plan.phases) {
    const fo = phase.fan_out;
    if (!fo) continue;
    const source = plan.handoffs.find((h) => h.to_phase === phase.id && h.artifact === fo.over);
    if (!source) throw fanoutProblem(phase.id, `no handoff ${JSON.stringify(fo.over)} reaches this phase`);
    const pipeline = [phase.id, ...fo.pipeline];
    if (new Set(pipeline).size !== pipeline.length)
      throw fanoutProblem(phase.id, "a phase repeats in the pipeline");
    if (!byId.has(fo.reduce) || pipeline.includes(fo.reduce))
      throw fanoutProblem(phase.id, `reduce ${JSON.stringify(fo.reduce)} is not another phase`);
    pipeline.forEach((id, position) => {
      const p = byId.get(id);
      if (!p) throw fanoutProblem(phase.id, `pipeline phase ${JSON.stringify(id)} does not exist`);
      if (p.fanout)
        throw fanoutProblem(phase.id, `phase ${id} is already a per-item phase of another fan-out`);
      if (p.human_gate)
        throw fanoutProblem(phase.id, `phase ${id} is a gate phase; a per-item phase cannot be`);
      p.fanout = {
        role: "template",
        over: fo.over,
        key: fo.key,
        max_items: fo.max_items,
        source_packet: source.from_phase,
        first: phase.id,
        position,
        pipeline: [...pipeline] as [string, ...string[]],
        reduce: fo.reduce,
      };
    });
  }
}

/** How buildRun maps the plan's risk gates to categories. */
export interface BuildOptions {
  /**
   * Plan risk gate index → category, from the evaluator's capability coverage
   * (scorecard.capabilities): structured data wins over the trigger keyword table.
   */
  gateCategories?: ReadonlyMap<number, GateCategory>;
}

/** The evaluator's capability terms and the gate category each one is. */
export const CAPABILITY_TERMS: Readonly<Record<string, GateCategory>> = {
  write: "write",
  shell: "shell-process",
  network: "network",
  "external message": "external-message",
};

/** Gate index → category from a scorecard's `capabilities` (first capability wins for a gate listed twice). */
export function coverageCategories(
  capabilities: readonly { capability: string; gates: readonly string[] }[],
): Map<number, GateCategory> {
  const out = new Map<number, GateCategory>();
  for (const c of capabilities) {
    const category = CAPABILITY_TERMS[c.capability];
    if (!category) continue;
    for (const g of c.gates) {
      const m = /^\/risk_gates\/(\d+)$/.exec(g);
      if (m && !out.has(Number(m[1]))) out.set(Number(m[1]), category);
    }
  }
  return out;
}

/** Refuse a phase id that cannot name a packet file. */
function assertSafePhaseIds(phases: readonly PlanPhaseView[]): void {
  for (const p of phases) {
    if (!SEGMENT.test(p.id) || p.id.length > 200) {
      throw compilerErrors.create(
        "ERR_COMPILE_UNSAFE_ID",
        `phase id ${JSON.stringify(p.id)} cannot name a packet file`,
        { details: { phase: p.id } },
      );
    }
  }
}

/** run.json's handoff index: one entry per (from phase, artifact), receivers in plan order. */
function runHandoffs(planHandoffs: PlanView["handoffs"]): RunHandoffEntry[] {
  const handoffs: RunHandoffEntry[] = [];
  const index = new Map<string, RunHandoffEntry>();
  for (const h of planHandoffs) {
    checkRelativePath(h.artifact, "handoff artifact");
    const key = `${h.from_phase}\u0000${h.artifact}`;
    let e = index.get(key);
    if (!e) {
      e = { artifact: h.artifact, from_packet: h.from_phase, to_packets: [] };
      index.set(key, e);
      handoffs.push(e);
    }
    if (!e.to_packets.includes(h.to_phase)) e.to_packets.push(h.to_phase);
  }
  return handoffs;
}

type Handoffs = PlanView["handoffs"];

/** What every packet is built from besides its own phase. */
interface PacketContext {
  plan: PlanView;
  workers: ReadonlyMap<string, PlanWorkerView>;
  /** Handoffs by receiving phase, and by producing phase, in plan order. */
  handoffsTo: ReadonlyMap<string, Handoffs>;
  handoffsFrom: ReadonlyMap<string, Handoffs>;
  /** The first phase in run order: it carries the plan's first slice. */
  firstId: string | undefined;
}

function groupBy(handoffs: Handoffs, key: (h: Handoffs[number]) => string): Map<string, Handoffs> {
  const m = new Map<string, Handoffs>();
  for (const h of handoffs) {
    const l = m.get(key(h)) ?? [];
    l.push(h);
    m.set(key(h), l);
  }
  return m;
}

/** A packet's inputs: each handoff it receives, once per (artifact, producer). */
export function packetInputs(received: Handoffs): PacketInput[] {
  const inputs: PacketInput[] = [];
  for (const h of received) {
    if (inputs.some((i) => i.artifact === h.artifact && i.from_packet === h.from_phase)) continue;
    inputs.push({
      artifact: h.artifact,
      from_packet: h.from_phase,
      format: h.artifact_schema.format as HandoffFormat,
      required_fields: [...h.artifact_schema.required_fields],
    });
  }
  return inputs;
}

/**
 * A packet's outputs: the phase's own, then what it hands off. A handed-off output takes
 * its first handoff's format and validation; later handoffs add required fields and receivers.
 */
export function packetOutputs(phaseOutputs: readonly string[], sent: Handoffs): PacketOutput[] {
  const outputs: PacketOutput[] = unique(phaseOutputs).map((artifact) => ({ artifact }));
  for (const h of sent) {
    let o = outputs.find((x) => x.artifact === h.artifact);
    if (!o) {
      o = { artifact: h.artifact };
      outputs.push(o);
    }
    if (o.format === undefined) {
      o.format = h.artifact_schema.format as HandoffFormat;
      o.required_fields = [...h.artifact_schema.required_fields];
      o.validation_command = h.artifact_schema.validation_command;
      o.to_packets = [];
    } else {
      o.required_fields = unique([...(o.required_fields ?? []), ...h.artifact_schema.required_fields]);
    }
    if (!o.to_packets?.includes(h.to_phase)) o.to_packets?.push(h.to_phase);
  }
  return outputs;
}

function phaseWorkers(phase: PlanPhaseView, workers: ReadonlyMap<string, PlanWorkerView>): PacketWorker[] {
  return phase.worker_ids.map((id) => {
    const w = workers.get(id);
    if (!w) {
      throw compilerErrors.create("ERR_PLAN_INVALID", `phase ${phase.id} names unknown worker ${id}`, {
        details: {
          problems: [{ code: "ERR_PLAN_UNKNOWN_WORKER", pointer: `/phases/${phase.id}/worker_ids` }],
        },
      });
    }
    return packetWorker(w);
  });
}

type FirstSlice = PlanView["execution_path"]["first_slice"];

/**
 * A packet's completion check: the phase's own; else the first slice's, but only when
 * the plan has a single phase (the slice's check is about the whole slice); else none.
 */
export function completionCheck(
  phase: PlanPhaseView,
  first: FirstSlice | undefined,
  phaseCount: number,
): string | null {
  if (typeof phase.completion_check === "string") return phase.completion_check;
  return first && phaseCount === 1 ? first.completion_check : null;
}

function firstSlice(first: FirstSlice | undefined): Pick<Packet, "first_slice"> {
  if (!first) return {};
  return {
    first_slice: {
      instruction: first.instruction,
      inputs: [...first.inputs],
      expected_output: first.expected_output,
      completion_check: first.completion_check,
      forbidden_actions: [...first.forbidden_actions],
    },
  };
}

/** One phase's packet, before verification, fan-out and gates are added. */
function makePacket(phase: PlanPhaseView, ctx: PacketContext): Packet {
  const { plan } = ctx;
  const inputs = packetInputs(ctx.handoffsTo.get(phase.id) ?? []);
  const outputs = packetOutputs(phase.outputs, ctx.handoffsFrom.get(phase.id) ?? []);
  const pws = phaseWorkers(phase, ctx.workers);
  const first = phase.id === ctx.firstId ? plan.execution_path.first_slice : undefined;
  const command = packetCommand(phase.command, phase.id);
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: phase.id,
    plan_id: plan.plan_id,
    phase: {
      id: phase.id,
      name: phase.name,
      entry_criteria: [...phase.entry_criteria],
      exit_criteria: [...phase.exit_criteria],
      outputs: [...phase.outputs],
    },
    objective: plan.objective,
    instruction: deriveInstruction(phase),
    depends_on: unique(phase.depends_on),
    workers: pws,
    inputs,
    outputs,
    verification: [],
    gates: [],
    human_gate: isHumanGatePhase(phase),
    budget: { max_retries: plan.budget.max_retries },
    stop_conditions: unique(pws.flatMap((w) => w.prompt_contract.stop_conditions)),
    completion_check: completionCheck(phase, first, plan.phases.length),
    ...firstSlice(first),
    ...(command ? { command } : {}),
  };
}

/** Digests and files of packets, prompts (rendered from each packet and its digest) and gates. */
function digestsOf(
  packets: readonly Packet[],
  gates: readonly Gate[],
): Pick<
  BuiltRun,
  "packetDigests" | "packetFiles" | "prompts" | "promptDigests" | "gateDigests" | "gateFiles"
> {
  const packetDigests = new Map<string, Digest>();
  const packetFiles = new Map<string, string>();
  const prompts = new Map<string, string>();
  const promptDigests = new Map<string, Digest>();
  for (const p of packets) {
    const { digest: d, rendered } = canonicalArtifact(p);
    packetDigests.set(p.packet_id, d);
    packetFiles.set(p.packet_id, rendered);
    const text = renderPrompt(p, d);
    prompts.set(p.packet_id, text);
    promptDigests.set(p.packet_id, digestBytes(text));
  }
  const gateDigests = new Map<string, Digest>();
  const gateFiles = new Map<string, string>();
  for (const g of gates) {
    const { digest: d, rendered } = canonicalArtifact(g);
    gateDigests.set(g.gate_id, d);
    gateFiles.set(g.gate_id, rendered);
  }
  return { packetDigests, packetFiles, prompts, promptDigests, gateDigests, gateFiles };
}

/** Compile a validated plan into packets, prompts and gates, in memory: pure, and the same on every machine. */
export function buildRun(plan: PlanView, options: BuildOptions = {}): BuiltRun {
  assertSafePhaseIds(plan.phases);
  const ordered = topologicalOrder(plan.phases);
  const handoffs = runHandoffs(plan.handoffs);
  const ctx: PacketContext = {
    plan,
    workers: new Map(plan.workers.map((w) => [w.id, w])),
    handoffsTo: groupBy(plan.handoffs, (h) => h.to_phase),
    handoffsFrom: groupBy(plan.handoffs, (h) => h.from_phase),
    firstId: ordered[0]?.id,
  };
  const packets = ordered.map((phase) => makePacket(phase, ctx));
  const dependents = new Set(plan.phases.flatMap((p) => p.depends_on));
  assignVerification(
    plan,
    packets,
    new Set(plan.phases.filter((p) => !dependents.has(p.id)).map((p) => p.id)),
  );
  markFanouts(plan, packets);
  const gates = gateIds(deriveGates(plan, packets, options.gateCategories ?? new Map()));
  attachGates(packets, gates);
  return { packets, ...digestsOf(packets, gates), gates, handoffs };
}
