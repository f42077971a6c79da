import path from "node:path";
import { type CheckedRun, loadCheckedRun, loadRun } from "@dwm/compiler";
import { type Digest, isDwmError, nodeProcessRunner, readJsonFile } from "@dwm/core";
import { checkStoreFolded, foldJournal, readJournal, type StoreCheck, type verifyRun } from "@dwm/runtime";
import { computeFrontier, type FrontierRun, planLimits } from "@dwm/scheduler";
import type { Frontier, JournalEvent, NextStep, RunState } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { type Landing, landArgv, landingOf } from "../internal/landing.js";
import { liveHolder } from "../internal/lock-holder.js";
import { recoverableText } from "../internal/recoverable.js";
import { type ResolvedRun, repoRoot, resolveRun } from "../run-arg.js";

function quote(a: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The next step before it is put in its `next-action` envelope: what to do, why, the argv that does it, and what it is about. */
export interface Decision {
  action: NextStep["action"];
  reason: string;
  argv: string[] | null;
  extra?: Partial<Pick<NextStep, "gate_id" | "packet_id" | "frontier_status">>;
}

/** `dwm next [run]`: the one next safe action for the run, why, and the exact argv that takes it. Read-only. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const refArgs = [r.runId, ...(typeof args.values.store === "string" ? ["--store", args.values.store] : [])];
  const s = nextStep(r.runId, await decide(r, refArgs, ctx));
  return {
    exitCode: 0,
    output: s,
    text: `${s.action}: ${s.reason}${s.command ? `\n  $ ${s.command}` : ""}`,
  };
}

/** The `next-action` artifact of a decision. */
function nextStep(runId: string, d: Decision): NextStep {
  const extra = d.extra ?? {};
  return {
    kind: "next-action",
    schema_version: "1",
    run_id: runId,
    action: d.action,
    reason: d.reason,
    argv: d.argv as NextStep["argv"],
    command: d.argv ? d.argv.map(quote).join(" ") : null,
    gate_id: extra.gate_id ?? null,
    packet_id: extra.packet_id ?? null,
    frontier_status: extra.frontier_status ?? null,
  };
}

/** In order: a live runner, a broken store, a run that cannot be read, then what the frontier says. */
async function decide(r: ResolvedRun, refArgs: string[], ctx: CommandContext): Promise<Decision> {
  const holder = liveHolder(r.runDir, ctx.clock.now());
  if (holder) {
    return {
      action: "wait",
      reason: `a runner (pid ${holder.pid} on ${holder.host}) is working on this run; watch it, or approve its gates from here`,
      argv: ["dwm", "status", ...refArgs],
    };
  }
  // verify's checks through the stat cache of verified files, as status makes them; `dwm verify`
  // still reads every byte.
  const checked = checkStoreFolded(r.runDir);
  const broken = integrityDecision(checked.report, refArgs);
  if (broken) return broken;
  let read: RunView;
  try {
    read = await readRunView(r, checked);
  } catch (e) {
    if (!isDwmError(e)) throw e;
    return {
      action: "repair-store",
      reason: `the run cannot be read: ${e.code} ${e.message}`,
      argv: ["dwm", "verify", ...refArgs],
    };
  }
  const limits = planLimits(read.plan);
  const f = computeFrontier(read.state, read.view, {
    planConcurrencyCap: limits.concurrencyCap,
    maxAgents: limits.maxAgents,
  });
  const landing = read.state.completed ? await landingHere(ctx, read) : null;
  return frontierDecision(f, read.state, r.runId, refArgs, landing);
}

/** Where the completed run's result stands; the executor (its git helpers) loads only for a completed run. */
async function landingHere(ctx: CommandContext, read: RunView): Promise<Landing> {
  const { createGit } = await import("@dwm/executor");
  const git = createGit(nodeProcessRunner, ctx.env);
  return landingOf(git, repoRoot(ctx.cwd), read.state, read.events, read.base);
}

interface RunView {
  state: ReturnType<typeof foldJournal>;
  events: JournalEvent[];
  base: string | null;
  view: FrontierRun;
  plan: unknown;
}

/**
 * The scheduler's view of the run: the compiled packets, and fan-out item packets (schema 0.6)
 * so their dependencies count. The dispatcher, which reads the items, loads only when there are
 * any (it brings the executor and most of DWM with it).
 */
async function frontierRun(dir: string, loaded: CheckedRun, state: RunState): Promise<FrontierRun> {
  const hasItems = Object.values(state.fanouts ?? {}).some((f) => (f?.packets.length ?? 0) > 0);
  if (!hasItems) return { run: loaded.run, packets: new Map(loaded.packets), gates: loaded.gates };
  const { fanoutFrontierRun } = await import("@dwm/dispatcher");
  return fanoutFrontierRun(dir, loaded, state);
}

/** The folded state, the frontier's view of the run and the plan; throws a DwmError when any cannot be read. */
async function readRunView(r: ResolvedRun, checked: StoreCheck): Promise<RunView> {
  // A run the check passed is taken as it vouched for it (each file against run.json's digest);
  // loadRun checks every schema and re-renders every prompt, which next does not use.
  const loaded =
    checked.report.ok && checked.run !== null && checked.runDigest !== null
      ? loadCheckedRun(r.runDir, checked.run, checked.runDigest as Digest)
      : loadRun(r.runDir);
  // The check read and folded the journal already; only one it could not fold is read again.
  const events = checked.state !== null ? checked.events : readJournal(r.runDir).events;
  const state = checked.state ?? foldJournal(events, loaded.run);
  const view = await frontierRun(r.runDir, loaded, state);
  const plan = readJsonFile(path.join(r.runDir, "plan.json"));
  return { state, events, base: loaded.run.base_commit, view, plan };
}

/** A store that fails verification: run to cut off a torn last line, else repair first; null when intact. */
export function integrityDecision(verify: ReturnType<typeof verifyRun>, refArgs: string[]): Decision | null {
  if (verify.ok) return null;
  const recoverable = recoverableText(verify.problems);
  if (recoverable !== null) return { action: "run", reason: recoverable, argv: ["dwm", "run", ...refArgs] };
  const first = verify.problems[0];
  return {
    action: "repair-store",
    reason: `the run store failed verification (${verify.problems.length} problem(s)${first ? `, first ${first.code} ${first.file}` : ""}); nothing should run until it is restored`,
    argv: ["dwm", "verify", ...refArgs],
  };
}

/**
 * What the frontier of an intact run says to do: land it (when `landing` says its result is not
 * in its branch yet), nothing, run, decide a gate, or look at a failure.
 */
export function frontierDecision(
  f: Frontier,
  state: RunState,
  runId: string,
  refArgs: string[],
  landing: Landing | null = null,
): Decision {
  const runArgv = ["dwm", "run", ...refArgs];
  const extra = { frontier_status: f.status };
  // A completed run has nothing left unless a skipped packet may come back (its skip gate approved since).
  if (f.status === "complete" || (state.completed && f.status !== "running"))
    return completeDecision(state, landing, refArgs, extra);
  if (f.status === "running" || f.status === "waiting")
    return { action: "run", reason: runReason(f), argv: runArgv, extra };
  if (f.status === "gate") return gateDecision(f, state, runId, refArgs);
  if (f.status === "budget") {
    return {
      action: "run",
      reason:
        "the last run stopped at its budget; run again (with a larger --max-attempts or --token-budget if you set one)",
      argv: runArgv,
      extra,
    };
  }
  return failureDecision(f, state, refArgs);
}

/** How a complete run begins its reason. */
const DONE = "every packet is completed and merged";

/** A complete run: everything done, or done but the packets the plan let it skip. */
export function completeReason(state: RunState): string {
  const skipped = Object.entries(state.packets)
    .filter(([, p]) => p?.state === "skipped")
    .map(([id]) => id);
  if (skipped.length === 0) return `${DONE}; nothing is left to do`;
  return `every packet is completed and merged, but ${skipped.join(", ")} ${skipped.length === 1 ? "was" : "were"} skipped (a gate whose safe default is skip was not approved): approve that gate (dwm gates shows it) and run again to do ${skipped.length === 1 ? "it" : "them"}`;
}

/** A complete run: land its result into the branch it started from unless it is there, else nothing to do. */
function completeDecision(
  state: RunState,
  landing: Landing | null,
  refArgs: string[],
  extra: NonNullable<Decision["extra"]>,
): Decision {
  const reason = completeReason(state);
  // Skipped work comes first: landing now would land a result without it.
  if (reason !== `${DONE}; nothing is left to do`) return { action: "complete", reason, argv: null, extra };
  if (landing === null || landing.landed) {
    const where = landing?.landed ? `, and the result is in ${landing.branch}` : "";
    return { action: "complete", reason: `${DONE}${where}; nothing is left to do`, argv: null, extra };
  }
  const argv = landArgv(refArgs, landing);
  return {
    action: "land",
    reason:
      landing.branch !== null
        ? `the run is complete; bring its result into ${landing.branch}, the branch it started from`
        : `the run is complete and recorded no branch it started from; bring its result into a branch${argv === null ? ` (dwm land ${refArgs[0]} --into BRANCH)` : ` (${landing.here}, checked out now)`}`,
    argv,
    extra,
  };
}

/** Why running is the next step: orphans to resume, ready packets, or gates to open. */
function runReason(f: Frontier): string {
  if (f.in_flight.length > 0)
    return `${f.in_flight.length} packet(s) were in flight when the last runner stopped (${f.in_flight.join(", ")}); running resumes them`;
  if (f.dispatch.length > 0) return `${f.ready.length} packet(s) are ready (${f.ready.join(", ")})`;
  if (f.open_gates.length > 0)
    return `the run reached ${f.open_gates.map((g) => g.gate_id).join(", ")}; running opens it for a decision`;
  const back = f.unskip ?? [];
  if (back.length > 0)
    return `${back.join(", ")} ${back.length === 1 ? "was" : "were"} skipped, and nothing skips ${back.length === 1 ? "it" : "them"} any more; running does the work`;
  const skip = f.skip ?? [];
  if (skip.length > 0)
    return `${skip.map((k) => k.packet_id).join(", ")} will be skipped (${skip[0]?.reason}); running records that and goes on`;
  return "work is left that the runner can do";
}

/** The first waiting gate, with the packets it holds, to approve (or reject). */
function gateDecision(f: Frontier, state: RunState, runId: string, refArgs: string[]): Decision {
  const gate = f.waiting_gates[0] as string;
  const holds = f.blocked.filter((b) => b.waiting_on.includes(gate)).map((b) => b.packet_id);
  const held = state.gates[gate]?.packets.length ? (state.gates[gate]?.packets ?? []) : holds;
  return {
    action: "approve-gate",
    reason: `gate ${gate} waits for a decision${held.length ? ` (it holds ${held.join(", ")})` : ""}: review it with dwm gates, then approve it, or reject it with a reason (dwm reject ${runId} ${gate} --reason TEXT)`,
    argv: ["dwm", "approve", ...refArgs.slice(0, 1), gate, ...refArgs.slice(1)],
    extra: { frontier_status: f.status, gate_id: gate },
  };
}

/** Stuck: an infrastructure failure to retry, a failed packet to inspect, or a blocked packet to look at. */
function failureDecision(f: Frontier, state: RunState, refArgs: string[]): Decision {
  const fs_ = { frontier_status: f.status };
  const failed = f.failed[0] ?? f.blocked.find((b) => b.reason === "infra")?.packet_id ?? null;
  if (failed !== null && f.blocked.find((b) => b.packet_id === failed)?.reason === "infra") {
    return {
      action: "run",
      reason: `${failed} stopped on an infrastructure failure; fix the backend (login, installation), then run again to retry it`,
      argv: ["dwm", "run", ...refArgs],
      extra: { ...fs_, packet_id: failed },
    };
  }
  if (failed !== null) {
    return {
      action: "inspect-failure",
      reason: `packet ${failed} failed${state.packets[failed]?.reason ? `: ${state.packets[failed]?.reason}` : ""}; read its evidence, fix the plan or the code, compile again and run`,
      argv: ["dwm", "show", ...refArgs.slice(0, 1), failed, ...refArgs.slice(1)],
      extra: { ...fs_, packet_id: failed },
    };
  }
  const rejected = rejectedGateDecision(f, state, refArgs);
  if (rejected) return rejected;
  const b = f.blocked[0];
  return {
    action: "inspect-failure",
    reason: b ? `nothing can run: ${b.packet_id} ${b.detail}` : "nothing can run",
    argv: ["dwm", "status", ...refArgs],
    extra: { ...fs_, packet_id: b?.packet_id ?? null },
  };
}

/**
 * Work held only by a rejected gate that sent nothing back: the operator said no to what the
 * packets need, so the way forward is a plan that does not need it (compiling it reopens or
 * removes the gate), shown with the gate's own view.
 */
export function rejectedGateDecision(f: Frontier, state: RunState, refArgs: string[]): Decision | null {
  const b = f.blocked.find(
    (x) => x.reason === "gate" && x.waiting_on.some((g) => state.gates[g]?.state === "rejected"),
  );
  if (!b) return null;
  const gate = b.waiting_on.find((g) => state.gates[g]?.state === "rejected") as string;
  return {
    action: "inspect-failure",
    reason: `gate ${gate} was rejected and sent nothing back, so ${b.packet_id} cannot run: edit the plan so no packet needs it, then dwm compile and dwm run; dwm gates shows what it holds`,
    argv: ["dwm", "gates", ...refArgs],
    extra: { frontier_status: f.status, packet_id: b.packet_id, gate_id: gate },
  };
}
