import type { FailingCheck, PacketAttemptDetail, PacketDetail } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { liveHolder } from "../internal/lock-holder.js";
import { findPlanFile, packetDetail } from "../internal/packet-view.js";
import { formatUsd, viewBindings } from "../internal/prices.js";
import { readRunModel } from "../internal/run-model.js";
import { repoRoot, resolveRun } from "../run-arg.js";

/** `dwm show <run> <packet>`: the packet, each attempt with its failing checks, findings, diff stat and cost, and the next step. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const packetId = args.positionals[1] as string;
  const attempt = attemptOption(args.values.attempt);
  const model = readRunModel(r.runDir);
  const packet = model.packets.get(packetId);
  if (!packet) {
    throw cliErrors.create(
      "ERR_CLI_PACKET_NOT_FOUND",
      `run ${r.runId} has no packet ${JSON.stringify(packetId)}`,
      {
        details: { run: r.runId, packet: packetId, available: [...model.packets.keys()].slice(0, 50) },
      },
    );
  }
  const root = repoRoot(ctx.cwd);
  const workers = typeof args.values.workers === "string" ? args.values.workers : undefined;
  const detail = packetDetail(
    model,
    r.runDir,
    packet,
    await viewBindings(workers, ctx.cwd, root),
    {
      ref: r.ref,
      holder: liveHolder(r.runDir, ctx.clock.now()),
      planFile: findPlanFile(model.loaded.run.plan_id, ctx.cwd, root),
    },
    attempt,
  );
  if (attempt !== undefined && detail.attempts.length === 0) {
    throw cliErrors.create("ERR_CLI_USAGE", `packet ${packetId} has no attempt ${attempt}`, {
      hint: `It has ${model.state.packets[packetId]?.attempts ?? 0} attempt(s); drop --attempt to see them all.`,
    });
  }
  return { exitCode: 0, output: detail, text: renderDetail(detail) };
}

/** `--attempt N`: a whole number ≥ 1. */
function attemptOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^[1-9][0-9]*$/.test(v)) {
    throw cliErrors.create("ERR_CLI_USAGE", `--attempt must be a whole number ≥ 1, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** The packet view as text: what it is, each attempt, and the next step. */
export function renderDetail(d: PacketDetail): string {
  const lines = [
    `packet ${d.packet_id} of run ${d.run_id}: ${d.state}${d.reason ? ` (${d.reason})` : ""}`,
    `  phase:    ${d.phase.id}${d.phase.name ? ` "${d.phase.name}"` : ""}${d.fanout_from ? `, item of fan-out ${d.fanout_from}` : ""}`,
    ...d.workers.map(
      (w) =>
        `  worker:   ${w.worker_id}${w.backend ? ` (${w.backend}${w.model ? ` ${w.model}` : ""})` : ""}${w.role ? `: ${w.role}` : ""}; owns ${w.ownership.join(", ") || "nothing"}`,
    ),
    `  after:    ${d.depends_on.join(", ") || "nothing"}`,
    `  before:   ${d.dependents.join(", ") || "nothing"}`,
    `  gates:    ${d.gates.map((g) => `${g.gate_id} ${g.state}`).join(", ") || "none"}`,
    `  cost:     ${costLine(d)}`,
  ];
  if (d.attempts.length === 0) lines.push("", "No attempt yet.");
  for (const a of d.attempts) lines.push("", ...attemptLines(a));
  lines.push(
    "",
    `next: ${d.next_action.summary}`,
    ...(d.next_action.command ? [`  $ ${d.next_action.command}`] : []),
  );
  return lines.join("\n");
}

function costLine(d: PacketDetail): string {
  const c = d.cost;
  const priced = c.unpriced > 0 ? ` (${c.unpriced} attempt(s) without a price)` : "";
  return `${c.attempts} attempt(s), ${c.total_tokens} tokens (in ${c.input_tokens}, out ${c.output_tokens}), ${formatUsd(c.usd)}${priced}`;
}

/** One attempt: outcome and verdict, then what failed and why, then the diff stat. */
export function attemptLines(a: PacketAttemptDetail): string[] {
  return [
    `attempt ${a.attempt}: ${a.outcome ?? "no evidence"}${a.verdict ? ` → ${a.verdict}` : ""}${a.failure_class ? ` [${a.failure_class}]` : ""}  (${attemptFacts(a).join(", ")})`,
    `  evidence: ${a.evidence}/`,
    ...a.failing_checks.flatMap(checkLines),
    ...a.findings.flatMap((f) => [
      `  finding ${f.code} (${f.effect}): ${f.message}`,
      ...f.evidence.flatMap((e) => indent(firstLines(e, EVIDENCE_LINES), "    | ")),
    ]),
    ...a.invocations
      .filter((x) => x.stderr_tail !== null)
      .flatMap((i) => [
        `  worker ${i.worker_id} (${i.backend}) ${i.outcome}, exit ${i.exit_code ?? "-"}:`,
        ...indent(i.stderr_tail ?? "", "    | "),
      ]),
    ...diffLines(a),
  ];
}

/** Backend, exit, duration, tokens and cost of an attempt, those it has. */
function attemptFacts(a: PacketAttemptDetail): string[] {
  const exit = a.exit_code === null ? (a.signal ? `signal ${a.signal}` : null) : `exit ${a.exit_code}`;
  const tokens = a.tokens
    ? (a.tokens.total_tokens ?? (a.tokens.input_tokens ?? 0) + (a.tokens.output_tokens ?? 0))
    : null;
  return [
    a.backends.join("+") || null,
    exit,
    a.duration_ms === null ? null : `${(a.duration_ms / 1000).toFixed(1)}s`,
    tokens === null ? null : `${tokens} tokens`,
    a.cost.usd === null ? null : `${formatUsd(a.cost.usd)}${a.cost.source === "reported" ? " reported" : ""}`,
  ].filter((x): x is string => x !== null);
}

/** A failing check: what failed, the command DWM ran for it and how it ended, and its output tail. */
function checkLines(c: FailingCheck): string[] {
  return [
    `  failing check ${c.id} (${c.kind}): ${c.detail}`,
    ...(c.command
      ? [`    command: ${c.command}`, `    exit: ${c.timed_out ? "timed out" : (c.exit_code ?? "-")}`]
      : []),
    ...(c.output_tail ? indent(c.output_tail, "    | ") : []),
  ];
}

function diffLines(a: PacketAttemptDetail): string[] {
  if (!a.diff) return ["  diff: none"];
  const counted = a.diff.added !== null;
  const head = `  diff: ${a.diff.files.length} file(s)${counted ? `, +${a.diff.added} -${a.diff.removed}` : ""}`;
  const files = a.diff.files.map(
    (f) => `    ${f.status.padEnd(8)} ${f.path}${f.added === null ? "" : `  +${f.added} -${f.removed}`}`,
  );
  return [head, ...files];
}

/** Lines of a finding's evidence in the text view (the JSON has all of it; a failing check shows its own output). */
const EVIDENCE_LINES = 4;

function firstLines(text: string, n: number): string {
  const lines = text.split("\n");
  return lines.length <= n ? text : [...lines.slice(0, n), `… (${lines.length - n} more lines)`].join("\n");
}

function indent(text: string, prefix: string): string[] {
  return text.split("\n").map((l) => `${prefix}${l}`.trimEnd());
}
