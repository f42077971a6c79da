import fs from "node:fs";
import path from "node:path";
import { DEFAULT_STORE, loadRun } from "@dwm/compiler";
import { digestBytes, nodeProcessRunner, resolveInside } from "@dwm/core";
import { attemptRef, executorErrors, isInfraOutcome, resolveBinding, runAttempt } from "@dwm/executor";
import type { Attempt, AttemptInput, AttemptRequest } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { findBindings } from "../internal/bindings-source.js";
import { checkBeforeChange } from "../internal/preflight.js";
import { isRunDir } from "../run-arg.js";
import { startsProcesses, workerSandbox } from "../worker-sandbox.js";

function hostEnv(ctx: CommandContext): Record<string, string> {
  return Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined));
}

async function repoRoot(ctx: CommandContext): Promise<string> {
  const r = await nodeProcessRunner.run({
    argv: ["git", "rev-parse", "--show-toplevel"],
    cwd: ctx.cwd,
    env: hostEnv(ctx),
    timeoutMs: 15_000,
  });
  if (r.exitCode !== 0 || r.spawnError !== null) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${ctx.cwd} is not inside a git repository`, {
      details: { cwd: ctx.cwd },
    });
  }
  return fs.realpathSync(r.stdout.trim());
}

async function headCommit(ctx: CommandContext, repo: string): Promise<string> {
  const r = await nodeProcessRunner.run({
    argv: ["git", "rev-parse", "HEAD"],
    cwd: repo,
    env: hostEnv(ctx),
  });
  const head = r.stdout.trim();
  if (r.exitCode !== 0 || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head)) {
    throw executorErrors.create("ERR_EXEC_BASE_COMMIT", `${repo} has no commit to start from`, {
      details: { repo },
    });
  }
  return head;
}

/** `<run>` is a run directory, or a run id in the store. */
function runDirOf(ctx: CommandContext, repo: string, run: string, store: string | undefined): string {
  const direct = path.resolve(ctx.cwd, run);
  if (isRunDir(direct)) return direct;
  let inStore: string;
  try {
    inStore = resolveInside(repo, `${store ?? DEFAULT_STORE}/${run}`, "run");
  } catch {
    inStore = "";
  }
  if (inStore !== "" && isRunDir(inStore)) return inStore;
  throw executorErrors.create(
    "ERR_EXEC_RUN_NOT_FOUND",
    `no run ${JSON.stringify(run)} (looked for ${direct} and the store)`,
    {
      details: { run },
    },
  );
}

function nextAttempt(packetDir: string): number {
  if (!fs.existsSync(packetDir)) return 1;
  const done = fs
    .readdirSync(packetDir)
    .filter((n) => /^[1-9][0-9]*$/.test(n) && fs.existsSync(path.join(packetDir, n, "attempt.json")))
    .map(Number);
  return done.length === 0 ? 1 : Math.max(...done) + 1;
}

/** Where the attempt's work is: its branch and head commit, or that it changed nothing. */
function branchText(a: Attempt): string {
  if (a.head_commit && a.head_commit !== a.base_commit)
    return `${a.branch ?? "-"} @ ${a.head_commit.slice(0, 12)}`;
  return `${a.branch ?? "-"}${a.branch ? " (no changes)" : ""}`;
}

/** One worker invocation: backend, outcome, exit code or signal, first line of the detail. */
function invocationText(i: Attempt["invocations"][number]): string {
  const exit = i.exit_code === null ? "" : ` exit ${i.exit_code}`;
  const signal = i.signal ? ` ${i.signal}` : "";
  const detail = i.detail ? ` — ${i.detail.split("\n")[0]}` : "";
  return `${i.worker_id}: ${i.backend} ${i.outcome}${exit}${signal}${detail}`;
}

/** Each declared output: found, missing, or not a path DWM can check. */
function outputText(o: Attempt["outputs"][number]): string {
  if (!o.checked) return `${o.artifact}: not a path`;
  return `${o.artifact}: ${o.found ? "found" : "MISSING"}`;
}

function summary(a: Attempt, source: string | null, missingInputs: string[]): string {
  const lines = [
    `attempt ${a.attempt} of ${a.packet_id} (run ${a.run_id}): ${a.outcome}${a.dry_run ? " (dry run)" : ""}`,
    `  bindings   ${source ?? "none"} (${a.binding_digest.slice(0, 19)}…)`,
    `  branch     ${branchText(a)}`,
  ];
  for (const i of a.invocations) {
    lines.push(`  worker     ${invocationText(i)}`);
    if (i.argv.length > 0) lines.push(`             ${i.argv.join(" ")}`);
  }
  const changed = a.changed_files
    .slice(0, 8)
    .map((c) => c.path)
    .join(", ");
  lines.push(`  changed    ${a.changed_files.length} file(s)${a.changed_files.length ? `: ${changed}` : ""}`);
  for (const o of a.outputs) lines.push(`  output     ${outputText(o)}`);
  for (const c of a.checks)
    lines.push(`  check      ${c.id} ${c.passed ? "passed" : "FAILED"}: ${c.command}`);
  for (const f of a.findings) lines.push(`  finding    ${f.code}: ${f.message}`);
  for (const n of a.notes) lines.push(`  note       ${n}`);
  for (const m of missingInputs)
    lines.push(`  warning    handoff input ${m} is not registered yet; the worker runs without it`);
  if (a.tokens) lines.push(`  tokens     ${JSON.stringify(a.tokens)}`);
  if (isInfraOutcome(a.outcome)) lines.push("  (an infrastructure outcome: it says nothing about the work)");
  return lines.join("\n");
}

/** `dwm exec <run> <packet>`: run one attempt of one packet by hand and print its summary. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const [runArg = "", packetId = ""] = args.positionals;
  const repo = await repoRoot(ctx);
  const store = typeof args.values.store === "string" ? args.values.store : undefined;
  const runDir = runDirOf(ctx, repo, runArg, store);
  checkBeforeChange(runDir, "exec", runArg);
  const loaded = loadRun(runDir);
  const packet = loaded.packets.get(packetId);
  const prompt = loaded.prompts.get(packetId);
  if (packet === undefined || prompt === undefined) {
    throw executorErrors.create(
      "ERR_EXEC_PACKET_NOT_FOUND",
      `run ${loaded.run.run_id} has no packet ${JSON.stringify(packetId)}`,
      {
        details: { packets: [...loaded.packets.keys()] },
      },
    );
  }
  const { bindings, digest: bindingsDigest, source } = findBindings(args, ctx, [repo]);
  const binding = resolveBinding(bindings, bindingsDigest, packet);

  const inputs: AttemptInput[] = [];
  const missingInputs: string[] = [];
  for (const i of packet.inputs) {
    const file = resolveInside(runDir, `handoffs/${i.artifact}`, "handoff");
    if (!fs.existsSync(file)) {
      missingInputs.push(i.artifact);
      continue;
    }
    const content = fs.readFileSync(file);
    inputs.push({
      artifact: i.artifact,
      digest: digestBytes(content),
      content_base64: content.toString("base64"),
    });
  }

  // Hand-run attempts live outside the run store (verify flags files no journal event names)
  // and on refs of their own (refs/dwm/<run>/attempts/<packet>/exec-<n>), so they never touch
  // the dispatcher's attempts.
  const packetDir = resolveInside(repo, `.dwm/exec/${loaded.run.run_id}/${packetId}`, "attempt directory");
  let attemptNo = nextAttempt(packetDir);
  if (typeof args.values.attempt === "string") {
    attemptNo = Number(args.values.attempt);
    if (!Number.isInteger(attemptNo) || attemptNo < 1)
      throw cliErrors.create("ERR_CLI_USAGE", "--attempt must be a whole number ≥ 1");
  }
  const limits: AttemptRequest["limits"] = {};
  if (typeof args.values.timeout === "string") {
    const ms = Number(args.values.timeout);
    if (!Number.isInteger(ms) || ms < 1)
      throw cliErrors.create("ERR_CLI_USAGE", "--timeout must be a whole number of milliseconds ≥ 1");
    limits.timeout_ms = ms;
  }
  const request: AttemptRequest = {
    kind: "attempt-request",
    schema_version: "1",
    run_id: loaded.run.run_id,
    packet,
    prompt,
    attempt: attemptNo,
    branch: attemptRef(loaded.run.run_id, packetId, `exec-${attemptNo}`),
    base_commit: loaded.run.base_commit ?? (await headCommit(ctx, repo)),
    binding,
    inputs,
    repair_context: null,
    repo,
    limits,
  };
  const sandbox = await workerSandbox(args, ctx, startsProcesses({ bindings: binding.workers }, [packet]));
  const attempt = await runAttempt(request, {
    processRunner: nodeProcessRunner,
    clock: ctx.clock,
    attemptDir: path.join(packetDir, String(attemptNo)),
    env: ctx.env,
    sandbox,
    hidden: [path.dirname(runDir)],
  });
  return {
    exitCode: attempt.outcome === "ok" ? 0 : 1,
    output: attempt,
    text: summary(attempt, source, missingInputs),
  };
}
