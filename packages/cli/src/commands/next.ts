import fs from "node:fs";
import path from "node:path";
import { loadRun } from "@dwm/compiler";
import { isDwmError, readJsonFile } from "@dwm/core";
import { fanoutFrontierRun } from "@dwm/dispatcher";
import { foldJournal, LOCK_FILE, readJournal, verifyRun } from "@dwm/runtime";
import { computeFrontier, planLimits } from "@dwm/scheduler";
import type { NextStep } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { resolveRun } from "../run-arg.js";

function quote(a: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** A live runner's lease, if one holds the run's lock now. */
function liveHolder(runDir: string, now: string): { pid: number; host: string; expires_at: string } | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(runDir, LOCK_FILE), "utf8")) as {
      pid: number;
      host: string;
      expires_at: string;
    };
    if (Date.parse(info.expires_at) <= Date.parse(now)) return null;
    try {
      process.kill(info.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") return null;
    }
    return info;
  } catch {
    return null;
  }
}

/** `dwm next [run]`: the one next safe action for the run, why, and the exact argv that takes it. Read-only. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const refArgs = [r.runId, ...(typeof args.values.store === "string" ? ["--store", args.values.store] : [])];
  const step = (
    action: NextStep["action"],
    reason: string,
    argv: string[] | null,
    extra: Partial<Pick<NextStep, "gate_id" | "packet_id" | "frontier_status">> = {},
  ): NextStep => ({
    kind: "next-action",
    schema_version: "1",
    run_id: r.runId,
    action,
    reason,
    argv: argv as NextStep["argv"],
    command: argv ? argv.map(quote).join(" ") : null,
    gate_id: extra.gate_id ?? null,
    packet_id: extra.packet_id ?? null,
    frontier_status: extra.frontier_status ?? null,
  });
  const done = (s: NextStep): CommandResult => ({
    exitCode: 0,
    output: s,
    text: `${s.action}: ${s.reason}${s.command ? `\n  ${s.command}` : ""}`,
  });

  const holder = liveHolder(r.runDir, ctx.clock.now());
  if (holder) {
    return done(
      step(
        "wait",
        `a runner (pid ${holder.pid} on ${holder.host}) is working on this run; watch it, or approve its gates from here`,
        ["dwm", "status", ...refArgs],
      ),
    );
  }
  const verify = verifyRun(r.runDir);
  if (!verify.ok) {
    if (verify.problems.every((p) => p.repairable)) {
      return done(
        step(
          "run",
          "a crash left an incomplete last journal line; running the workflow cuts it off and goes on",
          ["dwm", "run", ...refArgs],
        ),
      );
    }
    const first = verify.problems[0];
    return done(
      step(
        "repair-store",
        `the run store failed verification (${verify.problems.length} problem(s)${first ? `, first ${first.code} ${first.file}` : ""}); nothing should run until it is restored`,
        ["dwm", "verify", ...refArgs],
      ),
    );
  }
  let state: ReturnType<typeof foldJournal>;
  let view: ReturnType<typeof fanoutFrontierRun>;
  let plan: unknown = null;
  try {
    const loaded = loadRun(r.runDir);
    state = foldJournal(readJournal(r.runDir).events, loaded.run);
    // Fan-out item packets (schema 0.6) join the compiled ones, so their dependencies count.
    view = fanoutFrontierRun(r.runDir, loaded, state);
    plan = readJsonFile(path.join(r.runDir, "plan.json"));
  } catch (e) {
    if (!isDwmError(e)) throw e;
    return done(
      step("repair-store", `the run cannot be read: ${e.code} ${e.message}`, ["dwm", "verify", ...refArgs]),
    );
  }
  const limits = planLimits(plan);
  const f = computeFrontier(state, view, {
    planConcurrencyCap: limits.concurrencyCap,
    maxAgents: limits.maxAgents,
  });
  const runArgv = ["dwm", "run", ...refArgs];
  const fs_ = { frontier_status: f.status };
  if (f.status === "complete" || state.completed) {
    return done(step("complete", "every packet is completed and merged; nothing is left to do", null, fs_));
  }
  const orphans = f.in_flight.length;
  if (f.status === "running" || f.status === "waiting") {
    const why =
      orphans > 0
        ? `${orphans} packet(s) were in flight when the last runner stopped (${f.in_flight.join(", ")}); running resumes them`
        : f.dispatch.length > 0
          ? `${f.ready.length} packet(s) are ready (${f.ready.join(", ")})`
          : f.open_gates.length > 0
            ? `the run reached ${f.open_gates.map((g) => g.gate_id).join(", ")}; running opens it for a decision`
            : "work is left that the runner can do";
    return done(step("run", why, runArgv, fs_));
  }
  if (f.status === "gate") {
    const gate = f.waiting_gates[0] as string;
    const holds = f.blocked.filter((b) => b.waiting_on.includes(gate)).map((b) => b.packet_id);
    const held = state.gates[gate]?.packets.length ? (state.gates[gate]?.packets ?? []) : holds;
    return done(
      step(
        "approve-gate",
        `gate ${gate} waits for a decision${held.length ? ` (it holds ${held.join(", ")})` : ""}: review it with dwm gates, then approve it, or reject it with a reason (dwm reject ${r.runId} ${gate} --reason TEXT)`,
        ["dwm", "approve", ...refArgs.slice(0, 1), gate, ...refArgs.slice(1)],
        { ...fs_, gate_id: gate },
      ),
    );
  }
  if (f.status === "budget") {
    return done(
      step(
        "run",
        "the last run stopped at its budget; run again (with a larger --max-attempts or --token-budget if you set one)",
        runArgv,
        fs_,
      ),
    );
  }
  const failed = f.failed[0] ?? f.blocked.find((b) => b.reason === "infra")?.packet_id ?? null;
  if (failed !== null && f.blocked.find((b) => b.packet_id === failed)?.reason === "infra") {
    return done(
      step(
        "run",
        `${failed} stopped on an infrastructure failure; fix the backend (login, installation), then run again to retry it`,
        runArgv,
        { ...fs_, packet_id: failed },
      ),
    );
  }
  if (failed !== null) {
    return done(
      step(
        "inspect-failure",
        `packet ${failed} failed${state.packets[failed]?.reason ? `: ${state.packets[failed]?.reason}` : ""}; read its evidence, fix the plan or the code, compile again and run`,
        ["dwm", "log", ...refArgs, "--packet", failed],
        { ...fs_, packet_id: failed },
      ),
    );
  }
  const b = f.blocked[0];
  return done(
    step(
      "inspect-failure",
      b ? `nothing can run: ${b.packet_id} ${b.detail}` : "nothing can run",
      ["dwm", "status", ...refArgs],
      { ...fs_, packet_id: b?.packet_id ?? null },
    ),
  );
}
