import { readJournal, readRun } from "@dwm/runtime";
import type { JournalEvent, JournalLog } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { resolveRun } from "../run-arg.js";

/** One readable line for an event's data. */
export function describeEvent(e: JournalEvent): string {
  const d = e.data as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of [
    "packet_id",
    "gate_id",
    "artifact",
    "from_packet",
    "attempt",
    "next_attempt",
    "outcome",
    "verdict",
    "revision",
    "reason",
    "detail",
    "pid",
    "host",
    "commit",
  ]) {
    const v = d[k];
    if (v !== undefined && v !== null)
      parts.push(k === "packet_id" || k === "gate_id" || k === "artifact" ? String(v) : `${k}=${String(v)}`);
  }
  if (Array.isArray(d.files) && d.files.length > 0) parts.push(`files=${d.files.length}`);
  if (e.type === "lease.taken-over") {
    const p = d.previous as { pid: number; host: string };
    parts.push(`previous=${p.pid}@${p.host}`);
  }
  return parts.join(" ");
}

/** `dwm log [run]`: the journal, one line per event (filters: --packet, --type). */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const { run: runDoc } = readRun(r.runDir);
  const { events, torn } = readJournal(r.runDir);
  const packet = typeof args.values.packet === "string" ? args.values.packet : undefined;
  const type = typeof args.values.type === "string" ? args.values.type : undefined;
  const shown = events.filter(
    (e) =>
      (type === undefined || e.type === type || e.type.startsWith(`${type}.`)) &&
      (packet === undefined ||
        (e.data as { packet_id?: string; from_packet?: string }).packet_id === packet ||
        (e.data as { from_packet?: string }).from_packet === packet ||
        (e.type.startsWith("gate.") &&
          ((e.data as { packets?: unknown }).packets as unknown[] | undefined)?.includes(packet) === true)),
  );
  const output: JournalLog = {
    kind: "journal-log",
    schema_version: "1",
    run_id: runDoc.run_id,
    total: events.length,
    torn: torn !== null,
    events: shown,
  };
  const width = Math.max(4, ...shown.map((e) => e.type.length));
  const lines = [
    `run ${runDoc.run_id}: ${events.length} events${shown.length === events.length ? "" : `, ${shown.length} shown`}`,
    ...shown.map((e) =>
      `${String(e.seq).padStart(5)}  ${e.at}  ${e.type.padEnd(width)}  ${describeEvent(e)}`.trimEnd(),
    ),
    ...(torn
      ? [`(the journal ends in an incomplete line of ${torn.bytes} bytes; \`dwm run ${r.ref}\` repairs it)`]
      : []),
  ];
  return { exitCode: 0, output, text: lines.join("\n") };
}
