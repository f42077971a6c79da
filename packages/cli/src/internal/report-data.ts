import fs from "node:fs";
import path from "node:path";
import { digestBytes, isDwmError } from "@dwm/core";
import { readSignedApproval } from "@dwm/gate-resolver";
import { trustFor, verifyRun } from "@dwm/runtime";
import type { Approval, CostSummary, JournalEvent, PacketDetail, WorkerBindings } from "@dwm/schemas";
import { findPlanFile, packetDetail } from "./packet-view.js";
import { sumCost } from "./prices.js";
import type { RunModel } from "./run-model.js";

/** One decision on a gate: what was decided, by whom (and how they were known), when, why. */
export interface GateDecisionRow {
  decision: "approve" | "reject";
  approver: string;
  source: string;
  at: string;
  reason: string | null;
}

/** A gate as the report shows it. */
export interface GateRow {
  gate_id: string;
  category: string;
  state: string;
  packets: string[];
  opened_at: string | null;
  decisions: GateDecisionRow[];
}

/** A span of the timeline: one attempt (dispatch to review) or one gate (opened to decided). */
export interface Span {
  row: string;
  kind: "attempt" | "gate";
  label: string;
  /** Milliseconds from the run's first event. */
  start: number;
  end: number;
  /** What colours the bar: the verdict, the outcome, or the gate's state. */
  tone: string;
}

/** Everything `dwm report` shows, gathered from the run store (read-only). */
export interface ReportData {
  run_id: string;
  plan_id: string;
  revision: number;
  base_commit: string | null;
  integrity: { ok: boolean; problems: string[] };
  status: string;
  stopped: string | null;
  packets: PacketDetail[];
  edges: [string, string][];
  gates: GateRow[];
  integration: { branch: string; head: string | null; merged: string[]; conflicts: string[] };
  timeline: { spans: Span[]; total_ms: number; started_at: string | null };
  cost: CostSummary;
}

/** The run's headline state: complete, stopped (why), or in progress. */
function statusOf(model: RunModel): { status: string; stopped: string | null } {
  const s = model.state;
  if (s.completed) return { status: "complete", stopped: null };
  if (s.stopped) {
    return { status: `stopped: ${s.stopped.reason}`, stopped: s.stopped.detail ?? null };
  }
  return { status: "in progress", stopped: null };
}

/** Each gate (compiled, then opened at run time) with its journaled decisions. */
function gateRows(model: RunModel, runDir: string): GateRow[] {
  const ids = [...new Set([...model.loaded.gates.keys(), ...Object.keys(model.state.gates)])];
  return ids.map((id) => {
    const compiled = model.loaded.gates.get(id);
    const state = model.state.gates[id];
    return {
      gate_id: id,
      category: compiled?.category ?? "human-review",
      state: state?.state ?? "closed",
      packets: [...new Set([...(compiled?.packets ?? []), ...(state?.packets ?? [])])],
      opened_at: model.events.find((e) => e.type === "gate.opened" && e.data.gate_id === id)?.at ?? null,
      decisions: decisionsOf(model.events, runDir, id),
    };
  });
}

/** The approvals and rejections the journal recorded for a gate, read from their files. */
function decisionsOf(events: readonly JournalEvent[], runDir: string, gateId: string): GateDecisionRow[] {
  const rows: GateDecisionRow[] = [];
  for (const e of events) {
    if ((e.type !== "gate.approved" && e.type !== "gate.rejected") || e.data.gate_id !== gateId) continue;
    for (const f of e.data.files) {
      const a = readApproval(path.join(runDir, f.path), f.digest, runDir);
      rows.push({
        decision: e.type === "gate.approved" ? "approve" : "reject",
        approver: a?.approver.name ?? "(unreadable approval file)",
        source: a?.approver.source ?? "-",
        at: a?.at ?? e.at,
        reason: a?.reason ?? null,
      });
    }
  }
  return rows;
}

/**
 * An approval file as journaled: its bytes must still have the journaled digest and its
 * signature verify against the repository's trusted keys (`dwm verify` says why not).
 */
function readApproval(file: string, expectDigest: string, runDir: string): Approval | null {
  try {
    const bytes = fs.readFileSync(file);
    if (digestBytes(bytes) !== expectDigest) return null;
    const r = readSignedApproval(JSON.parse(bytes.toString("utf8")), trustFor(runDir));
    return r.ok ? r.approval : null;
  } catch (e) {
    if (isDwmError(e) || e instanceof SyntaxError || (e as NodeJS.ErrnoException).code === "ENOENT")
      return null;
    throw e;
  }
}

/** The integration branch: its head, the packets merged into it, and the merge conflicts. */
function integrationOf(model: RunModel): ReportData["integration"] {
  let head: string | null = null;
  const merged: string[] = [];
  const conflicts: string[] = [];
  for (const e of model.events) {
    if (e.type === "integration.merged") {
      head = e.data.commit;
      merged.push(e.data.packet_id);
    }
    if (e.type === "integration.conflict") conflicts.push(`${e.data.packet_id}: ${e.data.paths.join(", ")}`);
  }
  return { branch: `dwm/${model.loaded.run.run_id}/integration`, head, merged, conflicts };
}

/** Attempts (dispatched to reviewed or recorded) and gates (opened to decided) on one time axis. */
export function timelineOf(events: readonly JournalEvent[]): ReportData["timeline"] {
  const t0 = events[0] ? Date.parse(events[0].at) : 0;
  const at = (e: JournalEvent) => Date.parse(e.at) - t0;
  const open = new Map<string, { start: number; label: string }>();
  const spans: Span[] = [];
  for (const e of events) {
    const d = e.data as SpanEventData;
    const key = spanKey(d);
    if (e.type === "packet.dispatched") open.set(key, { start: at(e), label: `attempt ${d.attempt}` });
    else if (e.type === "gate.opened") open.set(key, { start: at(e), label: "waiting" });
    const close = closingTone(e.type, d);
    const begun = open.get(key);
    if (close === null || begun === undefined) continue;
    spans.push({
      row: d.packet_id ?? `gate ${d.gate_id}`,
      kind: d.packet_id !== undefined ? "attempt" : "gate",
      label: begun.label,
      start: begun.start,
      end: Math.max(begun.start, at(e)),
      tone: close,
    });
    open.delete(key);
  }
  const last = events.at(-1);
  const total = last ? at(last) : 0;
  for (const [key, begun] of open) spans.push(unfinished(key, begun, total));
  return { spans, total_ms: total, started_at: events[0]?.at ?? null };
}

/** The fields of an event the timeline reads. */
interface SpanEventData {
  packet_id?: string;
  attempt?: number;
  gate_id?: string;
  verdict?: string;
  outcome?: string;
}

/** What opens and closes one span: a packet's attempt, or a gate. */
function spanKey(d: SpanEventData): string {
  return d.packet_id !== undefined ? `${d.packet_id}#${d.attempt ?? ""}` : `gate:${d.gate_id}`;
}

/** A span still open at the last event: an attempt running, or a gate waiting. */
function unfinished(key: string, begun: { start: number; label: string }, total: number): Span {
  const gate = key.startsWith("gate:");
  return {
    row: gate ? `gate ${key.slice(5)}` : key.slice(0, key.lastIndexOf("#")),
    kind: gate ? "gate" : "attempt",
    label: `${begun.label} (open)`,
    start: begun.start,
    end: total,
    tone: gate ? "open" : "running",
  };
}

/** The event that ends a span, and the tone of the span it ends. */
function closingTone(type: string, d: { verdict?: string; outcome?: string }): string | null {
  if (type === "packet.reviewed") return d.verdict ?? "reviewed";
  if (type === "packet.abandoned") return "abandoned";
  if (type === "gate.approved") return "approved";
  if (type === "gate.rejected") return "rejected";
  return null;
}

/** Gather the report of a run: packets with every attempt, edges, gates, integration, timeline and cost. */
export function reportData(
  model: RunModel,
  runDir: string,
  bindings: WorkerBindings | null,
  next: { ref: string; cwd: string; root: string },
): ReportData {
  const planFile = findPlanFile(model.loaded.run.plan_id, next.cwd, next.root);
  const packets = [...model.packets.values()].map((p) =>
    packetDetail(model, runDir, p, bindings, { ref: next.ref, holder: null, planFile }),
  );
  const ids = new Set(packets.map((p) => p.packet_id));
  const edges = packets.flatMap((p) =>
    p.depends_on.filter((d) => ids.has(d)).map((d) => [d, p.packet_id] as [string, string]),
  );
  const verify = verifyRun(runDir);
  return {
    run_id: model.loaded.run.run_id,
    plan_id: model.loaded.run.plan_id,
    revision: model.loaded.run.revision,
    base_commit: model.loaded.run.base_commit,
    integrity: { ok: verify.ok, problems: verify.problems.map((p) => `${p.code} ${p.file}: ${p.message}`) },
    ...statusOf(model),
    packets,
    edges,
    gates: gateRows(model, runDir),
    integration: integrationOf(model),
    timeline: timelineOf(model.events),
    cost: sumCost(packets.flatMap((p) => p.attempts)),
  };
}
