import { checkArtifact, isDwmError, nodeProcessRunner } from "@dwm/core";
import { type checkStore, checkStoreFolded, foldJournal, readJournal, readRun } from "@dwm/runtime";
import type {
  CostSummary,
  Gate,
  JournalEvent,
  NextAction,
  Run,
  RunState,
  StatusFanoutRow,
  StatusGateRow,
  StatusPacketRow,
  StatusReport,
  WorkerBindings,
} from "@dwm/schemas";
import { assuranceLine, unsandboxedAttempts } from "../assurance.js";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { journaledAttemptFiles, packetCosts } from "../internal/evidence.js";
import { type Landing, landArgv, landingOf } from "../internal/landing.js";
import { type LockHolder, liveHolder } from "../internal/lock-holder.js";
import { formatUsd, sumCost, viewBindings } from "../internal/prices.js";
import { recoverableByRun, recoverableText } from "../internal/recoverable.js";
import { repoRoot, resolveRun } from "../run-arg.js";

type Shown = StatusPacketRow["state"];

/** `unsandboxed_attempts` when the journal records any attempt run without a sandbox. */
function unsandboxedField(events: readonly JournalEvent[]): { unsandboxed_attempts?: number } {
  const n = unsandboxedAttempts(events);
  return n > 0 ? { unsandboxed_attempts: n } : {};
}

/** `dwm status [run]`: every packet and gate, whether the store is intact, and the next action. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  // verify's checks through the stat cache of verified files (as git status refreshes its index):
  // a file unchanged since it last matched is not hashed again; `dwm verify` still reads every byte.
  const checked = checkStoreFolded(r.runDir);
  const verify = checked.report;
  // run.json as the check read it when it passed; else read here, to fail as before.
  const runDoc = checked.run ?? readRun(r.runDir).run;
  // The check read and folded the journal already; only a journal it could not fold is read again.
  const { events, state } =
    checked.state !== null ? { events: checked.events, state: checked.state } : foldedState(r.runDir, runDoc);

  // Which gates hold which packets: compiled gate files, then gates opened at run time.
  const gateInfo = new Map<string, GateInfo>();
  for (const g of runDoc.gates) {
    // A gate file that fails its check is shown without its packets; verify names the problem.
    const doc = checkArtifact<Gate>(`gates/${g.gate_id}.json`, "gate", {
      root: r.runDir,
      expectDigest: g.digest,
    });
    gateInfo.set(
      g.gate_id,
      doc.ok ? { category: doc.value.category, packets: doc.value.packets } : { category: null, packets: [] },
    );
  }
  addRuntimeGates(gateInfo, state);
  const itemsOf = itemPackets(state);
  const rows = packetRows(state, dependencies(runDoc, events), itemsOf, gateInfo);
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.state] = (counts[row.state] ?? 0) + 1;
  const fanouts = fanoutRows(state, rows, itemsOf);
  const gates = [...gateInfo].map(([gate_id, i]) => ({
    gate_id,
    state: gateStateOf(state, gate_id),
    category: i.category,
    packets: i.packets,
  }));
  const waiting = gates.filter((g) => g.state === "open").map((g) => g.gate_id);
  const cost = addCosts(rows, r.runDir, await statusBindings(args, ctx), journaledAttemptFiles(events));

  const report: StatusReport = {
    kind: "status-report",
    schema_version: "1",
    run_id: runDoc.run_id,
    plan_id: runDoc.plan_id,
    revision: runDoc.revision,
    events: events.length,
    ...unsandboxedField(events),
    integrity: {
      ok: verify.ok,
      problems: verify.problems.length,
      torn: verify.torn,
      codes: [...new Set(verify.problems.map((p) => p.code))],
    },
    completed: state.completed,
    stopped: stopOf(state),
    counts,
    packets: rows,
    cost,
    ...(fanouts.length > 0 ? { fanouts } : {}),
    gates,
    waiting_gates: waiting,
    next_action: nextAction(
      r.ref,
      verify,
      state,
      rows,
      waiting,
      liveHolder(r.runDir, ctx.clock.now()),
      state.completed && verify.ok ? await landingHere(ctx, state, events, runDoc) : null,
    ),
  };
  // Crash leftovers (all problems repairable) are not an integrity failure: `dwm run` recovers them.
  const intact = verify.problems.every(recoverableByRun);
  return { exitCode: intact ? 0 : 3, output: report, text: render(report) };
}

/** Where the completed run's result stands in the repository of the working directory. */
async function landingHere(
  ctx: CommandContext,
  state: RunState,
  events: JournalEvent[],
  runDoc: Run,
): Promise<Landing> {
  // The executor (its git helpers) loads only for a completed run: status starts without it.
  const { createGit } = await import("@dwm/executor");
  const git = createGit(nodeProcessRunner, ctx.env);
  return landingOf(git, repoRoot(ctx.cwd), state, events, runDoc.base_commit);
}

/** The bindings whose price table costs the attempts: --workers FILE, else dwm.workers.json at the root, else none. */
function statusBindings(args: ParsedArgs, ctx: CommandContext): Promise<WorkerBindings | null> {
  const workers = typeof args.values.workers === "string" ? args.values.workers : undefined;
  return viewBindings(workers, ctx.cwd, repoRoot(ctx.cwd));
}

/** Each row's tokens and cost from its attempts' evidence; the run's sum. */
function addCosts(
  rows: StatusPacketRow[],
  runDir: string,
  bindings: WorkerBindings | null,
  journaled: ReadonlyMap<string, string>,
): CostSummary {
  const all: ReturnType<typeof packetCosts> = [];
  for (const row of rows) {
    const costs = packetCosts(runDir, row.packet_id, row.attempts, bindings, journaled);
    const sum = sumCost(costs);
    row.tokens = sum.total_tokens;
    row.cost_usd = sum.usd;
    all.push(...costs);
  }
  return sumCost(all);
}

/** A gate's category and the packets it holds. */
interface GateInfo {
  category: string | null;
  packets: string[];
}

/** The journal folded over the run; a journal that cannot be read shows the run as compiled (verify says why). */
function foldedState(runDir: string, runDoc: Run): { events: JournalEvent[]; state: RunState } {
  try {
    const events = readJournal(runDir).events;
    return { events, state: foldJournal(events, runDoc) };
  } catch (e) {
    if (!isDwmError(e)) throw e;
    return { events: [], state: foldJournal([], runDoc) };
  }
}

/** Gates opened at run time join the compiled ones, and add the packets they hold. */
function addRuntimeGates(gateInfo: Map<string, GateInfo>, state: RunState): void {
  for (const [id, g] of Object.entries(state.gates)) {
    if (!g) continue;
    const known = gateInfo.get(id);
    const packets = [...new Set([...(known?.packets ?? []), ...g.packets])];
    gateInfo.set(id, { category: known?.category ?? null, packets });
  }
}

function gateStateOf(state: RunState, id: string): StatusGateRow["state"] {
  return state.gates[id]?.state ?? "closed";
}

/** Each packet's dependencies: compiled ones, and a fan-out item's from its expansion event. */
function dependencies(runDoc: Run, events: readonly JournalEvent[]): Map<string, string[]> {
  const deps = new Map(runDoc.packets.map((p) => [p.packet_id, p.depends_on]));
  for (const e of events) {
    if (e.type !== "fanout.expanded") continue;
    for (const item of e.data.packets) deps.set(item.packet_id, item.depends_on);
  }
  return deps;
}

/** The item packets of each expanded fan-out template (only those the state knows). */
function itemPackets(state: RunState): Map<string, string[]> {
  const itemsOf = new Map<string, string[]>();
  for (const f of Object.values(state.fanouts ?? {})) {
    for (const item of f?.packets ?? []) {
      if (!state.packets[item.packet_id]) continue;
      itemsOf.set(item.template, [...(itemsOf.get(item.template) ?? []), item.packet_id]);
    }
  }
  return itemsOf;
}

/**
 * One row per packet: the gates holding it that are not approved, the dependencies not
 * done, and its shown state. An expanded template stands for its items: done when every
 * item is completed.
 */
export function packetRows(
  state: RunState,
  deps: ReadonlyMap<string, string[]>,
  itemsOf: ReadonlyMap<string, string[]>,
  gateInfo: ReadonlyMap<string, GateInfo>,
): StatusPacketRow[] {
  const done = (d: string): boolean => {
    const st = state.packets[d]?.state;
    if (st === "expanded")
      return (itemsOf.get(d) ?? []).every((i) => state.packets[i]?.state === "completed");
    return st === "completed";
  };
  const holding = gatesHolding(state, gateInfo);
  return Object.entries(state.packets).flatMap(([id, p]) => {
    if (!p) return [];
    const gates = holding.get(id) ?? [];
    const waiting_on = (deps.get(id) ?? []).filter((d) => !done(d));
    return [
      {
        packet_id: id,
        state: shownState(p.state, gates, waiting_on),
        attempts: p.attempts,
        last_verdict: p.last_verdict,
        last_outcome: p.last_outcome,
        gates,
        waiting_on,
      },
    ];
  });
}

/** Each packet's gates that are not approved, in gate order (one map: a run has a gate per packet or more). */
function gatesHolding(state: RunState, gateInfo: ReadonlyMap<string, GateInfo>): Map<string, string[]> {
  const holding = new Map<string, string[]>();
  for (const [g, i] of gateInfo) {
    if (gateStateOf(state, g) === "approved") continue;
    for (const id of i.packets) {
      const list = holding.get(id);
      if (list === undefined) holding.set(id, [g]);
      else if (list.at(-1) !== g) list.push(g);
    }
  }
  return holding;
}

/** A pending packet is shown as ready (nothing holds it) or blocked; any other state as folded. */
export function shownState(folded: Shown, gates: readonly string[], waitingOn: readonly string[]): Shown {
  if (folded !== "pending") return folded;
  return gates.length === 0 && waitingOn.length === 0 ? "ready" : "blocked";
}

/** Why the last runner stopped, or null. */
function stopOf(state: RunState): StatusReport["stopped"] {
  if (!state.stopped) return null;
  return {
    reason: state.stopped.reason,
    ...(state.stopped.detail === undefined ? {} : { detail: state.stopped.detail }),
  };
}

/** Item packets grouped under their per-item phase: counts by shown state, the failing ones with why. */
function fanoutRows(
  state: RunState,
  rows: readonly StatusPacketRow[],
  itemsOf: ReadonlyMap<string, string[]>,
): StatusFanoutRow[] {
  const byId = new Map(rows.map((r) => [r.packet_id, r]));
  const out: StatusFanoutRow[] = [];
  for (const [first, f] of Object.entries(state.fanouts ?? {})) {
    if (!f) continue;
    for (const phase of f.templates) {
      const items = itemsOf.get(phase) ?? [];
      out.push({
        phase,
        first,
        source_packet: f.source_packet,
        items: items.length,
        ...itemCounts(state, items, byId),
      });
    }
  }
  return out;
}

/** Counts of a fan-out phase's item packets by shown state, and the failed or needs-human ones with why. */
function itemCounts(
  state: RunState,
  items: readonly string[],
  byId: ReadonlyMap<string, StatusPacketRow>,
): Pick<StatusFanoutRow, "counts" | "failing"> {
  const counts: Record<string, number> = {};
  const failing: StatusFanoutRow["failing"] = [];
  for (const id of items) {
    const row = byId.get(id);
    if (!row) continue;
    counts[row.state] = (counts[row.state] ?? 0) + 1;
    if (row.state === "failed" || row.state === "needs-human")
      failing.push({ packet_id: id, state: row.state, reason: state.packets[id]?.reason ?? null });
  }
  return { counts, failing };
}

/**
 * A complete run: land its result into the branch it started from, unless it is there already
 * (`landing` null: not looked up, nothing to add).
 */
export function completeAction(ref: string, landing: Landing | null): NextAction {
  const done = "The run is complete: every packet passed review";
  if (landing === null) return { kind: "complete", summary: `${done}.`, command: null };
  if (landing.landed)
    return { kind: "complete", summary: `${done}, and its result is in ${landing.branch}.`, command: null };
  const argv = landArgv(ref.split(" "), landing);
  const where =
    landing.branch !== null
      ? `${landing.branch}, the branch it started from`
      : `a branch (it recorded none it started from)${argv === null ? `: dwm land ${ref.split(" ")[0]} --into BRANCH` : ""}`;
  return {
    kind: "land",
    summary: `${done}. Bring its result into ${where}`,
    command: argv?.join(" ") ?? null,
  };
}

/** The next action: wait for a live runner, repair or resume a broken store, done, decide a waiting gate, budget, a failure, else run. */
export function nextAction(
  ref: string,
  verify: ReturnType<typeof checkStore>,
  state: RunState,
  rows: StatusPacketRow[],
  waiting: string[],
  holder: LockHolder | null = null,
  landing: Landing | null = null,
): NextAction {
  if (holder) {
    return {
      kind: "wait",
      summary: `A runner (pid ${holder.pid} on ${holder.host}) is working on this run: watch it, or decide its gates from here (dwm gates ${ref}).`,
      command: `dwm status ${ref}`,
    };
  }
  if (!verify.ok) {
    const recoverable = recoverableText(verify.problems);
    if (recoverable !== null) {
      return {
        kind: "resume",
        summary: `${recoverable[0]?.toUpperCase()}${recoverable.slice(1)}.`,
        command: `dwm run ${ref}`,
      };
    }
    return {
      kind: "repair-integrity",
      summary: `The run store failed verification (${verify.problems.length} problem(s)); nothing should run until it is restored.`,
      command: `dwm verify ${ref}`,
    };
  }
  if (state.completed) return completeAction(ref, landing);
  const gate = waiting[0];
  if (gate !== undefined) {
    const holds = rows.filter((r) => r.gates.includes(gate)).map((r) => r.packet_id);
    return {
      kind: "approve",
      summary: `Gate ${gate} waits for a decision${holds.length ? ` (it holds ${holds.join(", ")})` : ""}: approve it, or reject it with a reason.`,
      command: `dwm approve ${ref} ${gate}`,
    };
  }
  if (state.stopped?.reason === "budget") {
    return {
      kind: "budget",
      summary: `The run stopped: budget exhausted${state.stopped.detail ? ` (${state.stopped.detail})` : ""}.`,
      command: null,
    };
  }
  const failed = rows.filter((r) => r.state === "failed");
  const moving = rows.filter((r) =>
    ["ready", "dispatched", "attempted", "reviewed", "repairing", "abandoned"].includes(r.state),
  );
  if (failed.length > 0 && moving.length === 0) {
    const f = failed[0] as StatusPacketRow;
    return {
      kind: "inspect-failed",
      summary: `Packet ${f.packet_id} failed${state.packets[f.packet_id]?.reason ? `: ${state.packets[f.packet_id]?.reason}` : ""}. Inspect its evidence, fix the plan and compile it again.`,
      command: `dwm show ${ref} ${f.packet_id}`,
    };
  }
  const ready = rows.filter((r) => r.state === "ready").map((r) => r.packet_id);
  const inFlight = rows.filter((r) =>
    ["dispatched", "attempted", "reviewed", "abandoned", "repairing"].includes(r.state),
  ).length;
  const summary =
    ready.length > 0
      ? `${ready.length} packet(s) ready (${ready.join(", ")}); run the workflow to go on.`
      : inFlight > 0
        ? `${inFlight} packet(s) were in flight when the last runner stopped; run the workflow to resume them.`
        : "No packet is ready; running the workflow opens the gates that hold the next packets.";
  return { kind: "run", summary, command: `dwm run ${ref}` };
}

/** Tokens and cost of the run in words: what is priced, and how many attempts are not. */
function costText(c: CostSummary): string {
  const unpriced =
    c.unpriced > 0 ? ` (${c.unpriced} attempt(s) used tokens without a price in dwm.workers.json)` : "";
  return `${c.total_tokens} tokens over ${c.attempts} attempt(s), ${formatUsd(c.usd)}${unpriced}`;
}

/** Failing items listed per fan-out phase in the text view; the JSON lists them all. */
const SHOWN_FAILURES = 20;

function render(s: StatusReport): string {
  // Item packets are shown grouped under their fan-out phase, not one line each.
  const items = new Set<string>();
  for (const f of s.fanouts ?? []) {
    for (const p of s.packets) if (p.packet_id.startsWith(`${f.phase}/`)) items.add(p.packet_id);
  }
  const shown = s.packets.filter((p) => !items.has(p.packet_id));
  const w = Math.max(6, ...shown.map((p) => p.packet_id.length));
  const lines = [
    `run ${s.run_id} (plan ${s.plan_id}, revision ${s.revision}): ${s.events} events, integrity ${s.integrity.ok ? "ok" : `FAILED (${s.integrity.codes.join(", ")})`}`,
    ...(s.unsandboxed_attempts === undefined ? [] : [assuranceLine(s.unsandboxed_attempts)]),
    "",
    `${"PACKET".padEnd(w)}  ${"STATE".padEnd(11)}  ATTEMPTS  ${"VERDICT".padEnd(17)}  WAITING FOR`,
    ...shown.map((p) =>
      [
        p.packet_id.padEnd(w),
        p.state.padEnd(11),
        String(p.attempts).padEnd(8),
        (p.last_verdict ?? "-").padEnd(17),
        [...p.gates.map((g) => `gate ${g}`), ...p.waiting_on.map((d) => `after ${d}`)].join(", "),
      ]
        .join("  ")
        .trimEnd(),
    ),
    ...(s.fanouts ?? []).flatMap((f) => [
      "",
      `fan-out ${f.phase} (${f.first === f.phase ? "" : `with ${f.first}, `}items of ${f.source_packet}): ${f.items} item packets: ${Object.entries(
        f.counts,
      )
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
      ...f.failing
        .slice(0, SHOWN_FAILURES)
        .map((x) => `  ${x.state} ${x.packet_id}${x.reason ? `: ${x.reason}` : ""}`),
      ...(f.failing.length > SHOWN_FAILURES ? [`  and ${f.failing.length - SHOWN_FAILURES} more`] : []),
    ]),
    "",
    ...(s.cost ? [`cost: ${costText(s.cost)}`] : []),
    `counts: ${Object.entries(s.counts)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    ...(s.gates.length
      ? [
          `gates: ${s.gates.map((g) => `${g.gate_id} ${g.state}${g.category ? ` (${g.category})` : ""}`).join(", ")}`,
        ]
      : []),
    ...(s.stopped ? [`stopped: ${s.stopped.reason}${s.stopped.detail ? ` (${s.stopped.detail})` : ""}`] : []),
    "",
    `next: ${s.next_action.summary}`,
    ...(s.next_action.command ? [`  $ ${s.next_action.command}`] : []),
  ];
  return lines.join("\n");
}
