import path from "node:path";
import type { CommandContext } from "../../command.js";
import { resolveRun } from "../../run-arg.js";
import { mcpErrors } from "./errors.js";
import { callCommand, type ToolOutcome } from "./tools.js";

interface FileRef {
  path: string;
}

/**
 * The show tool: `dwm show <run> <packet>` when this dwm has it, else the packet, its state and
 * the evidence the journal names (each recorded attempt's summary and each review) read from
 * the run store.
 */
export async function showPacket(
  run: string,
  packet: string,
  store: string | undefined,
  ctx: CommandContext,
): Promise<ToolOutcome> {
  const { findCommand } = await import("../../registry.js");
  if (findCommand("show")) {
    const r = await callCommand("show", [run, packet], { store }, ctx);
    return { exitCode: r.exitCode, output: r.output };
  }
  const [{ readJsonFile }, { foldJournal, readJournal, readRun }] = await Promise.all([
    import("@dwm/core"),
    import("@dwm/runtime"),
  ]);
  const r = resolveRun({ positionals: [run], values: store === undefined ? {} : { store }, json: true }, ctx);
  const { run: runDoc } = readRun(r.runDir);
  const { events } = readJournal(r.runDir);
  const state = foldJournal(events, runDoc).packets[packet];
  if (!state) {
    // Only packets the run knows are read: a packet id never becomes a path unchecked.
    throw mcpErrors.create(
      "ERR_MCP_PACKET_NOT_FOUND",
      `run ${r.runId} has no packet ${JSON.stringify(packet)}`,
      {
        details: { run: r.runId, packet },
      },
    );
  }
  const read = (rel: string) => readJsonFile(path.join(r.runDir, rel)) as Record<string, unknown>;
  const mine = events.filter((e) => (e.data as { packet_id?: string }).packet_id === packet);
  const fileOf = (e: (typeof events)[number], base: string) =>
    ((e.data as { files?: FileRef[] }).files ?? []).find((f) => f.path.endsWith(base))?.path;
  const attempts = mine.flatMap((e) => {
    const f = e.type === "attempt.recorded" ? fileOf(e, "/attempt.json") : undefined;
    return f ? [attemptSummary(read(f), f)] : [];
  });
  const reviews = mine.flatMap((e) => {
    const f = e.type === "packet.reviewed" ? fileOf(e, ".json") : undefined;
    return f ? [{ file: f, ...read(f) }] : [];
  });
  const packetFile = `packets/${packet}.json`;
  return {
    exitCode: 0,
    output: {
      kind: "packet-view",
      run_id: r.runId,
      packet_id: packet,
      state,
      packet: read(packetFile),
      attempts,
      reviews,
    },
  };
}

/** What an attempt did, without its diff and invocation transcripts (their files are named instead). */
function attemptSummary(a: Record<string, unknown>, file: string): Record<string, unknown> {
  const checks = (a.checks as Record<string, unknown>[] | undefined) ?? [];
  return {
    file,
    attempt: a.attempt,
    outcome: a.outcome,
    exit_code: a.exit_code,
    signal: a.signal,
    started_at: a.started_at,
    duration_ms: a.duration_ms,
    branch: a.branch,
    head_commit: a.head_commit,
    tokens: a.tokens,
    changed_files: a.changed_files,
    findings: a.findings,
    checks: checks.map((c) => ({
      id: c.id,
      kind: c.kind,
      command: c.command,
      passed: c.passed,
      exit_code: c.exit_code,
      duration_ms: c.duration_ms,
    })),
    notes: a.notes,
    files: ((a.files as FileRef[] | undefined) ?? []).map((f) => f.path),
  };
}
