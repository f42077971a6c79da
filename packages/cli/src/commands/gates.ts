import { loadRun } from "@dwm/compiler";
import { gateView, journaledApprovalPaths, loadGateReview } from "@dwm/gate-resolver";
import { needsHumanGate } from "@dwm/ingester";
import { foldJournal, readJournal } from "@dwm/runtime";
import type { GatesReport, GatesReportRow } from "@dwm/schemas";
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
  const order = [...loaded.gates.keys()];
  const ids = Object.keys(state.gates).sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || (a < b ? -1 : a > b ? 1 : 0);
  });
  for (const id of ids) {
    const view = gateView(state, loaded, id);
    let artifact = view.artifact;
    const review = loadGateReview(resolved.runDir, state, view.packets);
    if (artifact === null && review) artifact = needsHumanGate(review);
    const evidence = [...(artifact?.review ?? [])];
    for (const p of view.packets) {
      const n = state.packets[p]?.attempts ?? 0;
      if (n > 0) {
        for (const f of [
          `reviews/${p}/${n}.json`,
          `attempts/${p}/${n}/attempt.json`,
          `attempts/${p}/${n}/diff.patch`,
        ]) {
          if (!evidence.includes(f)) evidence.push(f);
        }
      }
    }
    const decided = [...journaled].filter(
      (f) => f.startsWith(`approvals/${id}/`) && /^\d+\.json$/.test(f.slice(`approvals/${id}/`.length)),
    );
    const open = view.state.state === "open" || (view.state.state === "closed" && view.preapprovable);
    rows.push({
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
      evidence,
      decisions: decided.sort(
        (a, b) => Number(a.split("/").pop()?.slice(0, -5)) - Number(b.split("/").pop()?.slice(0, -5)),
      ),
      commands: open
        ? [
            `dwm approve ${resolved.ref.replace(/^(\S+)/, `$1 ${id}`)}`,
            `dwm reject ${resolved.ref.replace(/^(\S+)/, `$1 ${id}`)} --reason "..."${view.packets.length ? " [--packets <packet>,...]" : ""}`,
          ]
        : [],
    });
  }
  rows.sort((a, b) => Number(b.waiting) - Number(a.waiting));
  const report: GatesReport = {
    kind: "gates-report",
    schema_version: "1",
    run_id: loaded.run.run_id,
    waiting: rows.filter((r) => r.waiting).length,
    gates: rows,
  };
  const text = [
    `Gates of run ${report.run_id}: ${report.waiting} waiting, ${rows.length} in all.`,
    ...rows.map((r) =>
      [
        `${r.waiting ? "WAITING" : r.state.padEnd(7)}  ${r.gate_id}  [${r.category}, ${r.source}]${r.can_preapprove ? " (may be approved in advance)" : ""}`,
        `    holds: ${r.packets.map((p) => `${p.packet_id} (${p.state})`).join(", ") || "nothing yet"}`,
        `    why: ${r.trigger}`,
        `    safe default: ${r.safe_default}`,
        ...(r.reason && r.reason !== r.trigger ? [`    last: ${r.reason}`] : []),
        ...(r.evidence.length ? [`    look at: ${r.evidence.join("; ")}`] : []),
        ...r.commands.map((c) => `    $ ${c}`),
      ].join("\n"),
    ),
  ].join("\n");
  return { exitCode: 0, output: report, text };
}
