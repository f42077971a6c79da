import { loadRun } from "@dwm/compiler";
import { type GateView, gateView, journaledApprovalPaths, loadGateReview } from "@dwm/gate-resolver";
import { needsHumanGate } from "@dwm/ingester";
import { foldJournal, readJournal } from "@dwm/runtime";
import type { Gate, GatesReport, GatesReportRow, RunState } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { resolveRun } from "../run-arg.js";

/** `dwm gates [run]`: every gate, waiting ones first, with what each holds and what to look at. Read-only. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const resolved = resolveRun(args, ctx);
  const loaded = loadRun(resolved.runDir);
  const { events } = readJournal(resolved.runDir);
  const state = foldJournal(events, loaded.run);
  const journaled = journaledApprovalPaths(events);
  const rows: GatesReportRow[] = [];
  for (const id of gateOrder(Object.keys(state.gates), [...loaded.gates.keys()])) {
    const view = gateView(state, loaded, id);
    let artifact = view.artifact;
    const review = loadGateReview(resolved.runDir, state, view.packets);
    if (artifact === null && review) artifact = needsHumanGate(review);
    rows.push(gateRow(view, artifact, state, journaled, resolved.ref));
  }
  rows.sort((a, b) => Number(b.waiting) - Number(a.waiting));
  const report: GatesReport = {
    kind: "gates-report",
    schema_version: "1",
    run_id: loaded.run.run_id,
    waiting: rows.filter((r) => r.waiting).length,
    gates: rows,
  };
  return { exitCode: 0, output: report, text: render(report) };
}

/** Compiled gates in their compiled order, then gates opened at run time, by id. */
export function gateOrder(ids: readonly string[], compiled: readonly string[]): string[] {
  const rank = (id: string) => {
    const i = compiled.indexOf(id);
    return i < 0 ? 1e9 : i;
  };
  return [...ids].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * One gate's row: what it holds, why, what to look at, the decisions taken, and the commands
 * that decide it (offered while it is open, or closed but approvable in advance).
 */
export function gateRow(
  view: GateView,
  artifact: Gate | null,
  state: RunState,
  journaled: ReadonlySet<string>,
  ref: string,
): GatesReportRow {
  const id = view.gate_id;
  const open = view.state.state === "open" || (view.state.state === "closed" && view.preapprovable);
  return {
    gate_id: id,
    state: view.state.state,
    waiting: view.waiting,
    can_preapprove: view.preapprovable && view.state.state === "closed",
    category: artifact?.category ?? "human-review",
    source: artifact?.source ?? "runtime",
    gate_digest: view.digest,
    trigger: artifact?.trigger ?? view.state.reason ?? "",
    safe_default: artifact?.safe_default ?? "hold the packets until an operator decides",
    packets: view.packets.map((p) => ({
      packet_id: p,
      state: state.packets[p]?.state ?? "unknown",
      attempts: state.packets[p]?.attempts ?? 0,
    })),
    reason: view.state.reason,
    evidence: evidenceOf(artifact, view.packets, state),
    decisions: decisionsOf(journaled, id),
    commands: open
      ? [
          `dwm approve ${ref.replace(/^(\S+)/, `$1 ${id}`)}`,
          `dwm reject ${ref.replace(/^(\S+)/, `$1 ${id}`)} --reason "..."${view.packets.length ? " [--packets <packet>,...]" : ""}`,
        ]
      : [],
    next: wayForward(view, artifact, state, ref),
  };
}

/** Whether a rejected gate sent work back: a packet it holds was reopened after the rejection. */
function sentWorkBack(view: GateView, state: RunState): boolean {
  return view.packets.some((p) => {
    const ps = state.packets[p];
    return ps !== undefined && ps.reopens > 0 && ps.seq > view.state.seq;
  });
}

/** The way forward from a gate's state, with the command that takes it. */
export function wayForward(view: GateView, artifact: Gate | null, state: RunState, ref: string): string {
  const g = view.state;
  const decide = `dwm approve ${ref.replace(/^(\S+)/, `$1 ${view.gate_id}`)}`;
  const run = `dwm run ${ref}`;
  switch (g.state) {
    case "open":
      return `waits for your decision: ${decide}, or reject it with a reason`;
    case "approved":
      return "approved; nothing to decide";
    case "superseded":
      return `superseded (${g.reason ?? "the packets it held run again"}); nothing to decide`;
    case "rejected":
      if (sentWorkBack(view, state) || artifact?.source === "human-gate-phase")
        return `rejected; the work it sent back runs again (${run}), then it is asked again`;
      return `rejected and nothing was sent back: edit the plan so no packet needs ${artifact?.category ?? "it"}, then dwm compile and ${run}`;
    case "closed": {
      if (artifact?.default_action === "skip")
        return `not approved, so the run goes on without what it holds (safe default skip); to do that work, ${decide} and ${run}`;
      const again = g.gate_digest !== null ? `reopened (${g.reason ?? "its packets run again"}); ` : "";
      if (view.preapprovable)
        return `${again}${view.waiting ? "holds ready work" : "asked when its packets are ready"}: ${decide}`;
      return `${again}asked when the run reaches it: ${run}`;
    }
  }
}

/** What the gate asks to review, then each held packet's last review, attempt and diff. */
function evidenceOf(artifact: Gate | null, packets: readonly string[], state: RunState): string[] {
  const evidence = [...(artifact?.review ?? [])];
  for (const p of packets) {
    const n = state.packets[p]?.attempts ?? 0;
    if (n <= 0) continue;
    for (const f of [
      `reviews/${p}/${n}.json`,
      `attempts/${p}/${n}/attempt.json`,
      `attempts/${p}/${n}/diff.patch`,
    ]) {
      if (!evidence.includes(f)) evidence.push(f);
    }
  }
  return evidence;
}

/** The journaled approval files of this gate (approvals/<gate>/<n>.json), by n. */
function decisionsOf(journaled: ReadonlySet<string>, id: string): string[] {
  const prefix = `approvals/${id}/`;
  const decided = [...journaled].filter(
    (f) => f.startsWith(prefix) && /^\d+\.json$/.test(f.slice(prefix.length)),
  );
  return decided.sort(
    (a, b) => Number(a.split("/").pop()?.slice(0, -5)) - Number(b.split("/").pop()?.slice(0, -5)),
  );
}

function render(report: GatesReport): string {
  const rows = report.gates;
  return [
    `Gates of run ${report.run_id}: ${report.waiting} waiting, ${rows.length} in all.`,
    ...rows.map((r) =>
      [
        `${r.waiting ? "WAITING" : r.state.padEnd(7)}  ${r.gate_id}  [${r.category}, ${r.source}]${r.can_preapprove ? " (may be approved in advance)" : ""}`,
        `    holds: ${r.packets.map((p) => `${p.packet_id} (${p.state})`).join(", ") || "nothing yet"}`,
        `    why: ${r.trigger}`,
        `    safe default: ${r.safe_default}`,
        ...(r.reason && r.reason !== r.trigger ? [`    last: ${r.reason}`] : []),
        ...(r.evidence.length ? [`    look at: ${r.evidence.join("; ")}`] : []),
        ...(r.next ? [`    next: ${r.next}`] : []),
        ...r.commands.map((c) => `    $ ${c}`),
      ].join("\n"),
    ),
  ].join("\n");
}
