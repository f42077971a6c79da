// Gate derivation: what each packet needs (worker permissions, writable surfaces,
// commands), the plan's risk gates, and the gate phases, as numbered gate artifacts.
import type { Gate, GateCategory, Packet } from "@dwm/schemas";
import type { PlanView } from "./plan.js";
import {
  CAPABILITY_CATEGORIES,
  categoryFromText,
  DEFAULT_SAFE_DEFAULT,
  GATE_CATEGORIES,
  RISK_CATEGORIES,
} from "./risk.js";

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

function isUnder(p: string, locator: string): boolean {
  const loc = locator.replace(/^\.\//, "").replace(/\/+$/, "");
  if (loc === "" || loc === ".") return false; // the whole repository: only write permission counts
  const q = p.replace(/^\.\//, "");
  return q === loc || q.startsWith(`${loc}/`);
}

/** One reason a packet needs a gate of a category. */
export interface Need {
  category: GateCategory;
  packet: string;
  reason: string;
  source: "worker-permission" | "surface";
}

/** What a packet needs approval for: its workers' permissions, the writable surfaces it touches, its command. */
export function packetNeeds(plan: PlanView, packet: Packet): Need[] {
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

/** Schema 0.6 structured safe default's action (stop, skip, ask); undefined for prose. */
function defaultAction(raw: unknown): Gate["default_action"] {
  const a = raw && typeof raw === "object" ? (raw as { action?: unknown }).action : undefined;
  return a === "stop" || a === "skip" || a === "ask" ? a : undefined;
}

export interface GateDraft {
  category: GateCategory;
  trigger: string;
  safe_default: string;
  /** What the run does while the gate is not approved (structured safe defaults only). */
  default_action?: Gate["default_action"];
  source: Gate["source"];
  packets: string[];
  review: string[];
  /** Fixed id (human-gate phases); others are numbered per category. */
  id?: string;
}

/** Gate drafts: the plan's risk gates (holding the packets that need them), uncovered needs, then gate phases. */
export function deriveGates(
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
      default_action: defaultAction(g.safe_default),
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

/** Gate artifacts from drafts: sorted by category, numbered within a category only when it has several. */
export function gateIds(drafts: GateDraft[]): Gate[] {
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
      ...(d.default_action === undefined ? {} : { default_action: d.default_action }),
      source: d.source,
      packets: d.packets,
      review: d.review,
      requires_approval: true,
    };
  });
}

/**
 * Put each gate on the packets it holds: a gate phase's gate is the packet's
 * completion gate (approval completes it); any other gate must be approved
 * before the packet is dispatched.
 */
export function attachGates(packets: readonly Packet[], gates: readonly Gate[]): void {
  const byId = new Map(packets.map((p) => [p.packet_id, p]));
  for (const g of gates) {
    for (const id of g.packets) {
      const p = byId.get(id) as Packet;
      if (g.source === "human-gate-phase") p.completion_gate = g.gate_id;
      else p.gates.push(g.gate_id);
    }
  }
}
