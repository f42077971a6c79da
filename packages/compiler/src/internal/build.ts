import { checkRelativePath, type Digest, digest, digestBytes, MinHeap } from "@dwm/core";
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
import type { PlanPhaseView, PlanView, PlanWorkerView } from "./plan.js";
import { renderPrompt } from "./prompt.js";
import {
  CAPABILITY_CATEGORIES,
  categoryFromText,
  DEFAULT_SAFE_DEFAULT,
  GATE_CATEGORIES,
  RISK_CATEGORIES,
} from "./risk.js";

/** The compiled content of a run, before it is written: pure data. */
export interface BuiltRun {
  /** Packets in run order: topological, ties in plan order. */
  packets: Packet[];
  packetDigests: Map<string, Digest>;
  prompts: Map<string, string>;
  promptDigests: Map<string, Digest>;
  gates: Gate[];
  gateDigests: Map<string, Digest>;
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
      details: { problems: [{ code: "ERR_PLAN_CYCLE", pointer: "/phases" }] },
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

function packetCommand(raw: unknown, phaseId: string): PacketCommand | undefined {
  if (raw === undefined || raw === null) return undefined;
  const bad = () =>
    compilerErrors.create("ERR_PLAN_INVALID", `phase ${phaseId}: command must be an argv list or a script`, {
      details: { problems: [{ code: "ERR_PLAN_TYPE", pointer: `/phases/${phaseId}/command` }] },
    });
  if (Array.isArray(raw)) {
    if (raw.length === 0 || !raw.every((a) => typeof a === "string" && a.length > 0)) throw bad();
    return { argv: [...(raw as string[])] as [string, ...string[]] };
  }
  if (typeof raw === "string") return { script: raw };
  if (typeof raw === "object" && "run" in raw) {
    // Schema 0.6: { run: [argv...] } runs without a shell; { run: "text", shell: true } with one.
    const o = raw as { run?: unknown; shell?: unknown };
    if (Array.isArray(o.run) && o.run.length > 0 && o.run.every((a) => typeof a === "string" && a))
      return { argv: [...(o.run as string[])] as [string, ...string[]] };
    if (typeof o.run === "string" && o.run.trim() !== "" && o.shell === true) return { script: o.run };
    throw bad();
  }
  if (typeof raw === "object") {
    const o = raw as { argv?: unknown; script?: unknown; shell?: unknown; timeout_ms?: unknown };
    const timeout = typeof o.timeout_ms === "number" ? { timeout_ms: o.timeout_ms } : {};
    if (Array.isArray(o.argv) && o.argv.length > 0 && o.argv.every((a) => typeof a === "string" && a))
      return { argv: [...(o.argv as string[])] as [string, ...string[]], ...timeout };
    const script =
      typeof o.script === "string" ? o.script : typeof o.shell === "string" ? o.shell : undefined;
    if (script) return { script, ...timeout };
  }
  throw bad();
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

function isUnder(p: string, locator: string): boolean {
  const loc = locator.replace(/^\.\//, "").replace(/\/+$/, "");
  if (loc === "" || loc === ".") return false; // the whole repository: only write permission counts
  const q = p.replace(/^\.\//, "");
  return q === loc || q.startsWith(`${loc}/`);
}

function deriveInstruction(phase: PlanPhaseView): string {
  if (typeof phase.instruction === "string" && phase.instruction.trim() !== "") return phase.instruction;
  return `Carry out phase "${phase.name}" (${phase.id}): meet every exit criterion and produce every expected output listed in this packet.`;
}

interface Need {
  category: GateCategory;
  packet: string;
  reason: string;
  source: "worker-permission" | "surface";
}

function packetNeeds(plan: PlanView, packet: Packet): Need[] {
  const needs: Need[] = [];
  const id = packet.packet_id;
  for (const w of packet.workers) {
    const t = w.tool_permissions;
    const add = (category: GateCategory, what: string) =>
      needs.push({
        category,
        packet: id,
        reason: `${id}: worker ${w.id} ${what}`,
        source: "worker-permission",
      });
    if (t.write) add("write", "has write permission");
    if (t.shell) add("shell-process", "has shell permission");
    if (t.network) add("network", "has network permission");
    if (t.mcp_connectors.length > 0)
      add("external-message", `uses MCP connectors ${t.mcp_connectors.join(", ")}`);
  }
  const writes = packet.workers.some((w) => w.tool_permissions.write);
  const paths = [...packet.phase.outputs, ...packet.workers.flatMap((w) => w.ownership)];
  for (const s of plan.surfaces) {
    if (s.access_mode === "read-only") continue;
    if (writes || paths.some((p) => isUnder(p, s.locator))) {
      needs.push({
        category: "write",
        packet: id,
        reason: `${id}: writes surface ${s.id} (${s.locator}, ${s.access_mode})`,
        source: "surface",
      });
    }
  }
  if (packet.command) {
    needs.push({
      category: "shell-process",
      packet: id,
      reason: `${id}: runs a command`,
      source: "worker-permission",
    });
  }
  return needs;
}

function safeDefaultText(raw: unknown, category: GateCategory): string {
  if (typeof raw === "string" && raw.trim() !== "") return raw;
  if (raw && typeof raw === "object") {
    const o = raw as { action?: unknown; before?: unknown; description?: unknown; text?: unknown };
    // Schema 0.6 structured default: { action: stop | skip | ask, before: <category or phase id> }.
    const action = typeof o.action === "string" ? o.action.trim() : "";
    const before = typeof o.before === "string" ? o.before.trim() : "";
    if (action !== "" && before !== "") return `${action} before ${before}`;
    for (const v of [o.description, o.text, o.action]) if (typeof v === "string" && v.trim() !== "") return v;
  }
  return DEFAULT_SAFE_DEFAULT[category];
}

interface GateDraft {
  category: GateCategory;
  trigger: string;
  safe_default: string;
  source: Gate["source"];
  packets: string[];
  review: string[];
  /** Fixed id (human-gate phases); others are numbered per category. */
  id?: string;
}

function deriveGates(
  plan: PlanView,
  packets: Packet[],
  fromCoverage: ReadonlyMap<number, GateCategory>,
): GateDraft[] {
  const needs = packets.flatMap((p) => packetNeeds(plan, p));
  const reviewOf = new Map(plan.phases.map((p) => [p.id, p.review ?? []]));
  const order = new Map(packets.map((p, i) => [p.packet_id, i]));
  const byCategory = new Map<GateCategory, Need[]>();
  for (const n of needs) {
    const list = byCategory.get(n.category) ?? [];
    list.push(n);
    byCategory.set(n.category, list);
  }
  const heldBy = (list: Need[]) =>
    unique(list.map((n) => n.packet)).sort((a, b) => order.get(a)! - order.get(b)!);
  const sideEffects = heldBy(needs);
  const drafts: GateDraft[] = [];
  const covered = new Set<GateCategory>();

  plan.risk_gates.forEach((g, i) => {
    if (g.requires_user_approval === false) return;
    const structured =
      g.category !== undefined && (GATE_CATEGORIES as readonly string[]).includes(g.category);
    const category: GateCategory = structured
      ? (g.category as GateCategory)
      : (fromCoverage.get(i) ?? categoryFromText(g.trigger) ?? "human-review");
    covered.add(category);
    const list = CAPABILITY_CATEGORIES.has(category) ? (byCategory.get(category) ?? []) : needs;
    const held = CAPABILITY_CATEGORIES.has(category) ? heldBy(list) : sideEffects;
    drafts.push({
      category,
      trigger: g.trigger,
      safe_default: safeDefaultText(g.safe_default, category),
      source: "plan-risk-gate",
      packets: held,
      review: [`plan risk_gates[${i}]: ${g.trigger}`, ...unique(list.map((n) => n.reason))],
    });
  });

  for (const category of RISK_CATEGORIES) {
    const list = byCategory.get(category);
    if (!list || covered.has(category)) continue;
    const fromWorker = list.some((n) => n.source === "worker-permission");
    drafts.push({
      category,
      trigger: TRIGGERS[category] ?? `the packets need ${category}`,
      safe_default: DEFAULT_SAFE_DEFAULT[category],
      source: fromWorker ? "worker-permission" : "surface",
      packets: heldBy(list),
      review: unique(list.map((n) => n.reason)),
    });
  }

  for (const p of packets) {
    if (!p.human_gate) continue;
    drafts.push({
      id: p.phase.id === "human_gate" ? "human-gate" : `human-gate-${p.packet_id}`,
      category: "human-review",
      trigger: `phase ${p.phase.id} is a human gate: it completes only by an operator's approval`,
      safe_default:
        "keep the packet open until an operator approves it with `dwm approve`; a rejection sends the named packets back for rework",
      source: "human-gate-phase",
      packets: [p.packet_id],
      review: [
        ...(reviewOf.get(p.packet_id) ?? []).map((r) => `${p.packet_id}: review: ${r}`),
        ...p.phase.exit_criteria.map((c) => `${p.packet_id}: exit criterion: ${c}`),
      ],
    });
  }
  return drafts;
}

const TRIGGERS: Partial<Record<GateCategory, string>> = {
  write: "packets write files: workers with write permission or writable surfaces",
  "shell-process": "packets run shell commands or processes",
  network: "packets use the network",
  "external-message": "packets use MCP connectors that can send messages outside",
};

function gateIds(drafts: GateDraft[]): Gate[] {
  const rank = (c: GateCategory) => (GATE_CATEGORIES as readonly string[]).indexOf(c);
  const sorted = drafts
    .map((d, i) => ({ d, i }))
    .sort((a, b) => rank(a.d.category) - rank(b.d.category) || a.i - b.i)
    .map((x) => x.d);
  const numbered = sorted.filter((d) => d.id === undefined);
  const counts = new Map<string, number>();
  for (const d of numbered) counts.set(d.category, (counts.get(d.category) ?? 0) + 1);
  const seen = new Map<string, number>();
  return sorted.map((d) => {
    let id = d.id;
    if (id === undefined) {
      const n = (seen.get(d.category) ?? 0) + 1;
      seen.set(d.category, n);
      id = counts.get(d.category) === 1 ? d.category : `${d.category}-${n}`;
    }
    return {
      kind: "gate",
      schema_version: "1",
      gate_id: id,
      category: d.category,
      trigger: d.trigger,
      safe_default: d.safe_default,
      source: d.source,
      packets: d.packets,
      review: d.review,
      requires_approval: true,
    };
  });
}

/** A fan-out the evaluator should have rejected, reported with the evaluator's code for the rule. */
function fanoutProblem(phase: string, code: string, message: string): Error {
  return compilerErrors.create("ERR_PLAN_INVALID", `phase ${phase}: ${message}`, {
    details: { problems: [{ code, pointer: `/phases/${phase}/fan_out`, message }] },
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
    if (!source)
      throw fanoutProblem(
        phase.id,
        "ERR_PLAN_FANOUT_OVER_TARGET",
        `no handoff ${JSON.stringify(fo.over)} reaches this phase`,
      );
    const pipeline = [phase.id, ...fo.pipeline];
    if (new Set(pipeline).size !== pipeline.length)
      throw fanoutProblem(phase.id, "ERR_PLAN_FANOUT_OVERLAP", "a phase repeats in the pipeline");
    if (!byId.has(fo.reduce) || pipeline.includes(fo.reduce))
      throw fanoutProblem(
        phase.id,
        "ERR_PLAN_FANOUT_REDUCE",
        `reduce ${JSON.stringify(fo.reduce)} is not another phase`,
      );
    pipeline.forEach((id, position) => {
      const p = byId.get(id);
      if (!p)
        throw fanoutProblem(
          phase.id,
          "ERR_PLAN_UNKNOWN_PHASE",
          `pipeline phase ${JSON.stringify(id)} does not exist`,
        );
      if (p.fanout)
        throw fanoutProblem(
          phase.id,
          "ERR_PLAN_FANOUT_OVERLAP",
          `phase ${id} is already a per-item phase of another fan-out`,
        );
      if (p.human_gate)
        throw fanoutProblem(
          phase.id,
          "ERR_PLAN_FANOUT_GATE",
          `phase ${id} is a gate phase; a per-item phase cannot be`,
        );
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

/** Compile a validated plan into packets, prompts and gates, in memory. */
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

export function buildRun(plan: PlanView, options: BuildOptions = {}): BuiltRun {
  const workers = new Map(plan.workers.map((w) => [w.id, w]));
  for (const p of plan.phases) {
    if (!SEGMENT.test(p.id) || p.id.length > 200) {
      throw compilerErrors.create(
        "ERR_COMPILE_UNSAFE_ID",
        `phase id ${JSON.stringify(p.id)} cannot name a packet file`,
        { details: { phase: p.id } },
      );
    }
  }
  const ordered = topologicalOrder(plan.phases);

  // Handoffs: receivers per (from phase, artifact), in plan order.
  const handoffs: RunHandoffEntry[] = [];
  const handoffIndex = new Map<string, RunHandoffEntry>();
  for (const h of plan.handoffs) {
    checkRelativePath(h.artifact, "handoff artifact");
    const key = `${h.from_phase}\u0000${h.artifact}`;
    let e = handoffIndex.get(key);
    if (!e) {
      e = { artifact: h.artifact, from_packet: h.from_phase, to_packets: [] };
      handoffIndex.set(key, e);
      handoffs.push(e);
    }
    if (!e.to_packets.includes(h.to_phase)) e.to_packets.push(h.to_phase);
  }

  const handoffsTo = new Map<string, PlanView["handoffs"]>();
  const handoffsFrom = new Map<string, PlanView["handoffs"]>();
  for (const h of plan.handoffs) {
    for (const [m, k] of [
      [handoffsTo, h.to_phase],
      [handoffsFrom, h.from_phase],
    ] as const) {
      const l = m.get(k) ?? [];
      l.push(h);
      m.set(k, l);
    }
  }
  const dependents = new Set(plan.phases.flatMap((p) => p.depends_on));
  const sinks = new Set(plan.phases.filter((p) => !dependents.has(p.id)).map((p) => p.id));
  const firstId = ordered[0]?.id;

  const packets: Packet[] = ordered.map((phase) => {
    const inputs: PacketInput[] = [];
    for (const h of handoffsTo.get(phase.id) ?? []) {
      if (inputs.some((i) => i.artifact === h.artifact && i.from_packet === h.from_phase)) continue;
      inputs.push({
        artifact: h.artifact,
        from_packet: h.from_phase,
        format: h.artifact_schema.format as HandoffFormat,
        required_fields: [...h.artifact_schema.required_fields],
      });
    }
    const outputs: PacketOutput[] = unique(phase.outputs).map((artifact) => ({ artifact }));
    for (const h of handoffsFrom.get(phase.id) ?? []) {
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
    const pws = phase.worker_ids.map((id) => {
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
    const first = phase.id === firstId ? plan.execution_path.first_slice : undefined;
    const command = packetCommand(phase.command, phase.id);
    const packet: Packet = {
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
      // The first slice's completion check is about the whole slice; it is the packet's own
      // check only when the plan has a single phase.
      completion_check:
        typeof phase.completion_check === "string"
          ? phase.completion_check
          : first && plan.phases.length === 1
            ? first.completion_check
            : null,
      ...(first
        ? {
            first_slice: {
              instruction: first.instruction,
              inputs: [...first.inputs],
              expected_output: first.expected_output,
              completion_check: first.completion_check,
              forbidden_actions: [...first.forbidden_actions],
            },
          }
        : {}),
      ...(command ? { command } : {}),
    };
    return packet;
  });

  assignVerification(plan, packets, sinks);
  markFanouts(plan, packets);

  const gates = gateIds(deriveGates(plan, packets, options.gateCategories ?? new Map()));
  const byId = new Map(packets.map((p) => [p.packet_id, p]));
  for (const g of gates) {
    for (const id of g.packets) {
      const p = byId.get(id) as Packet;
      if (g.source === "human-gate-phase") p.completion_gate = g.gate_id;
      else p.gates.push(g.gate_id);
    }
  }

  const packetDigests = new Map<string, Digest>();
  const prompts = new Map<string, string>();
  const promptDigests = new Map<string, Digest>();
  for (const p of packets) {
    const d = digest(p);
    packetDigests.set(p.packet_id, d);
    const text = renderPrompt(p, d);
    prompts.set(p.packet_id, text);
    promptDigests.set(p.packet_id, digestBytes(text));
  }
  const gateDigests = new Map(gates.map((g) => [g.gate_id, digest(g)]));
  return { packets, packetDigests, prompts, promptDigests, gates, gateDigests, handoffs };
}
