import fs from "node:fs";
import path from "node:path";
import { loadRun } from "@dwm/compiler";
import { hostProcessRunner, nodeProcessRunner, type ProcessRunner } from "@dwm/core";
import {
  type DispatcherPorts,
  dispatcherErrors,
  newRunInstance,
  type ProgressEvent,
  runWorkflow,
} from "@dwm/dispatcher";
import { executorErrors } from "@dwm/executor";
import {
  gateResolverErrors,
  POLICY_FILE,
  readApprovalPolicy,
  workerEnvironmentReason,
} from "@dwm/gate-resolver";
import { DEFAULT_INFRA_RETRY_POLICY, type InfraRetryPolicy } from "@dwm/ingester";
import { foldJournal, readJournal, readRun } from "@dwm/runtime";
import {
  type ApprovalPolicy,
  type BackendName,
  type RateLimit,
  RISK_CATEGORIES,
  type RunOutcome,
  type RunState,
  type WorkerBindings,
} from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { findBindings } from "../internal/bindings-source.js";
import { checkBeforeChange } from "../internal/preflight.js";
import { attemptCost } from "../internal/prices.js";
import { createProgress, type ProgressMode, type ProgressView } from "../internal/progress.js";
import { didYouMean } from "../internal/suggest.js";
import { tracedRun } from "../internal/tracing/traced-run.js";
import { operatorFor } from "../operator.js";
import { isRunDir, type ResolvedRun, resolveRun } from "../run-arg.js";
import { startsProcesses, workerSandbox } from "../worker-sandbox.js";
import { approverOf } from "./approve.js";
import { run as compile } from "./compile.js";
import { queueTlsFiles } from "./queue-options.js";

function hostEnv(ctx: CommandContext): Record<string, string> {
  return Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined));
}

function wholeNumber(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^[0-9]+$/.test(v) || !Number.isInteger(n) || n < min) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `--${name} must be a whole number ≥ ${min}, not ${JSON.stringify(v)}`,
    );
  }
  return n;
}

async function toplevel(ctx: CommandContext, dir: string): Promise<string> {
  const r = await nodeProcessRunner.run({
    argv: ["git", "rev-parse", "--show-toplevel"],
    cwd: dir,
    env: hostEnv(ctx),
    timeoutMs: 15_000,
  });
  if (r.exitCode !== 0 || r.spawnError !== null) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${dir} is not inside a git repository`, {
      details: { dir },
    });
  }
  return fs.realpathSync(r.stdout.trim());
}

function policyFor(dirs: string[]): { policy: ApprovalPolicy; name: string } | null {
  for (const d of dirs) {
    const file = path.join(d, POLICY_FILE);
    const policy = readApprovalPolicy(file);
    if (policy) return { policy, name: POLICY_FILE };
  }
  return null;
}

/** `--infra-backoff MS,MS,…`: one or more whole numbers of milliseconds. */
function backoffList(v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = typeof v === "string" ? v.split(",").map((s) => s.trim()) : [];
  if (parts.length === 0 || parts.some((s) => !/^[0-9]+$/.test(s))) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `--infra-backoff takes delays in milliseconds separated by commas (e.g. 5000,30000), not ${JSON.stringify(v)}`,
    );
  }
  return parts.map(Number);
}

/**
 * The infrastructure retry policy of the run: `--infra-retries` and `--infra-backoff` over the
 * bindings file's `infra_retries` and `infra_backoff_ms`, over the defaults.
 */
export function infraPolicyOf(
  opts: Pick<RunOptions, "infraRetries" | "infraBackoffMs">,
  bindings: Pick<WorkerBindings, "infra_retries" | "infra_backoff_ms">,
): InfraRetryPolicy {
  return {
    ...DEFAULT_INFRA_RETRY_POLICY,
    max_retries: opts.infraRetries ?? bindings.infra_retries ?? DEFAULT_INFRA_RETRY_POLICY.max_retries,
    delays_ms: opts.infraBackoffMs ?? bindings.infra_backoff_ms ?? DEFAULT_INFRA_RETRY_POLICY.delays_ms,
  };
}

function categories(v: ParsedArgs["values"][string]): string[] {
  const list = (Array.isArray(v) ? v : typeof v === "string" ? [v] : [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const c of list) {
    if (!(RISK_CATEGORIES as readonly string[]).includes(c)) {
      throw cliErrors.create(
        "ERR_CLI_USAGE",
        `--approve takes risk categories (${RISK_CATEGORIES.join(", ")}), not ${JSON.stringify(c)}${didYouMean(c, RISK_CATEGORIES)}`,
        { hint: "Human gates are never approved in advance: decide them with dwm approve <run> <gate>." },
      );
    }
  }
  return [...new Set(list)];
}

export { eventLine } from "../internal/progress.js";

/** The first line of the summary, by how the run ended (with its exit code when not 0). */
const HEADLINES: Record<RunOutcome["status"], (runId: string) => string> = {
  complete: (id) => `Run ${id} is complete.`,
  gate: (id) => `Run ${id} stopped at a gate (exit 4).`,
  budget: (id) => `Run ${id} stopped: budget spent (exit 5).`,
  interrupted: (id) => `Run ${id} was interrupted (exit 1).`,
  failed: (id) => `Run ${id} failed (exit 1).`,
};

/** The summary printed when `dwm run` ends: how, the counts, what waits or failed, and what to do next. */
export function render(o: RunOutcome, ref: string): string {
  const counts = Object.entries(o.counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const lines = [
    "",
    HEADLINES[o.status](o.run_id),
    `  ${o.detail}`,
    `  packets: ${counts}`,
    `  this run: ${o.this_run.attempts} attempt(s), ${o.this_run.events} event(s)${
      o.this_run.abandoned.length ? `, resumed ${o.this_run.abandoned.join(", ")}` : ""
    }${o.this_run.approvals.length ? `, approvals journaled: ${o.this_run.approvals.join(", ")}` : ""}`,
  ];
  if (o.integration)
    lines.push(`  integration: ${o.integration.branch} @ ${o.integration.commit.slice(0, 12)}`);
  for (const g of o.waiting_gates) {
    lines.push(
      `  gate ${g.gate_id}${g.category ? ` (${g.category})` : ""} holds ${g.packets.join(", ") || "-"}`,
    );
  }
  for (const f of o.failed) lines.push(`  failed ${f.packet_id}: ${f.reason}`);
  lines.push(...nextLines(o, ref));
  return lines.join("\n");
}

/** `<run_id> ARG`, keeping a ` --store DIR` suffix of the reference after it. */
function withArg(ref: string, arg: string): string {
  return ref.replace(/^(\S+)/, `$1 ${arg}`);
}

/**
 * What to do next, one `$ command` a line: at a gate, review and decide it, then run again;
 * a failed packet, read its evidence; complete, open the report; else run again.
 */
export function nextLines(o: RunOutcome, ref: string): string[] {
  const gate = o.waiting_gates[0];
  if (o.status === "gate" && gate) {
    return [
      "",
      `Next: review gate ${gate.gate_id}, decide it, then run again:`,
      `  $ dwm gates ${ref}`,
      `  $ dwm approve ${withArg(ref, gate.gate_id)}`,
      `  $ dwm run ${ref}`,
    ];
  }
  const failed = o.failed[0];
  if (o.status === "failed" && failed) {
    return [
      "",
      `Next: read the evidence of ${failed.packet_id}:`,
      `  $ dwm show ${withArg(ref, failed.packet_id)}`,
    ];
  }
  if (o.status === "complete") {
    // dwm land brings the result into the branch the run started from; without one, --into names it.
    if (o.next?.[1] === "land")
      return [
        "",
        "Next: bring the result into the branch the run started from; read the report:",
        `  $ dwm land ${ref}`,
        `  $ dwm report ${ref}`,
      ];
    return [
      "",
      `Next: the run's report; the run recorded no branch it started from, so name one to land its result (dwm land ${withArg(ref, "--into BRANCH")}):`,
      `  $ dwm report ${ref}`,
    ];
  }
  if (o.status === "failed") return ["", "Next: see what holds the run:", `  $ dwm status ${ref}`];
  return ["", "Next: run again (it resumes where this one stopped):", `  $ dwm run ${ref}`];
}

/** `--queue` and `--remote` go together (checked before anything else happens). */
function queueArgs(args: ParsedArgs): { url: string; remote: string } | null {
  const url = args.values.queue;
  const remote = args.values.remote;
  if (url === undefined) {
    if (remote !== undefined) throw cliErrors.create("ERR_CLI_USAGE", "--remote goes with --queue");
    return null;
  }
  if (typeof url !== "string" || url === "")
    throw cliErrors.create("ERR_CLI_USAGE", "--queue needs a redis:// URL");
  if (typeof remote !== "string" || remote === "") {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      "--queue needs --remote: the git remote workers fetch from and push to",
      {
        hint: "A URL (ssh://…, https://…) or a bare repository path every worker machine can reach, e.g. --remote /srv/git/app.git.",
      },
    );
  }
  return { url, remote };
}

/**
 * `--queue URL --remote REMOTE`: this process becomes the coordinator of a scale-out run
 * (docs/scale-out.md). Redis and the remote are checked before anything is journaled.
 */
async function queueFor(
  args: ParsedArgs,
  ctx: CommandContext,
  repo: string,
  runDir: string,
  bindings: WorkerBindings,
  printer: (p: ProgressEvent) => void,
  processRunner: ProcessRunner,
): Promise<NonNullable<DispatcherPorts["queue"]> | null> {
  const q = queueArgs(args);
  if (q === null) return null;
  const { url, remote } = q;
  const bullmq = await import("@dwm/dispatcher/bullmq");
  const tls = queueTlsFiles(args, ctx);
  const parsed = bullmq.parseQueueUrl(url, tls);
  await bullmq.checkRedis(parsed);
  // A local path is resolved here; workers on other machines need the same path (or a URL).
  const remoteArg =
    /^[a-z][a-z0-9+.-]*:\/\//i.test(remote) || /^[^/]+@[^:]+:/.test(remote)
      ? remote
      : path.resolve(ctx.cwd, remote);
  const reach = await nodeProcessRunner.run({
    argv: ["git", "ls-remote", remoteArg, "HEAD"],
    cwd: repo,
    env: { ...hostEnv(ctx), GIT_TERMINAL_PROMPT: "0" },
    timeoutMs: 60_000,
  });
  if (reach.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      `the remote ${remote} cannot be read: ${reach.stderr.trim().slice(-400)}`,
    );
  }
  const rateLimits: Partial<Record<BackendName, RateLimit>> = {};
  for (const b of Object.values(bindings.bindings)) {
    const l = b?.rate_limit;
    const have = b ? rateLimits[b.backend] : undefined;
    if (b && l && (!have || l.max / l.duration_ms < have.max / have.duration_ms)) rateLimits[b.backend] = l;
  }
  const prefix = typeof args.values["queue-prefix"] === "string" ? args.values["queue-prefix"] : undefined;
  printer({
    kind: "note",
    message: `coordinator: attempts go to ${parsed.redacted}, work travels through ${remote}`,
  });
  return (_execute, _concurrency, run) =>
    bullmq.createRedisAttemptQueue({
      url,
      tls,
      run,
      remote: remoteArg,
      repo,
      runDir,
      processRunner,
      env: ctx.env,
      clock: ctx.clock,
      rateLimits,
      ...(prefix ? { prefix } : {}),
      log: (message) => printer({ kind: "note", message }),
    });
}

/** What `dwm run`'s options ask for, checked before anything is compiled or journaled. */
export interface RunOptions {
  until: "gate" | "complete" | undefined;
  ndjson: boolean;
  concurrency: number | undefined;
  maxAttempts: number | undefined;
  tokenBudget: number | undefined;
  /** US dollars the run may spend, priced from the bindings' price table (--budget-usd). */
  usdBudget: number | undefined;
  /** Risk categories approved in advance (--approve). */
  approve: string[];
  /** `--infra-retries N`: infrastructure retries per packet (over the bindings file's infra_retries). */
  infraRetries?: number | undefined;
  /** `--infra-backoff MS,…`: the delays before each infrastructure retry (over infra_backoff_ms). */
  infraBackoffMs?: number[] | undefined;
  /** No progress lines, only the summary (--quiet). */
  quiet: boolean;
}

/** Check every option first: a usage error, or --approve from inside a worker, stops the command before it does anything. */
export function runOptions(args: ParsedArgs, ctx: CommandContext): RunOptions {
  const until = args.values.until;
  if (until !== undefined && until !== "gate" && until !== "complete") {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `--until must be gate or complete, not ${JSON.stringify(until)}${didYouMean(String(until), ["gate", "complete"])}`,
    );
  }
  const ndjson = args.values.ndjson === true;
  if (ndjson && args.json)
    throw cliErrors.create("ERR_CLI_USAGE", "--json and --ndjson cannot be used together");
  queueArgs(args);
  const concurrency = wholeNumber("concurrency", args.values.concurrency, 1);
  const maxAttempts = wholeNumber("max-attempts", args.values["max-attempts"], 0);
  const tokenBudget = wholeNumber("token-budget", args.values["token-budget"], 0);
  const infraRetries = wholeNumber("infra-retries", args.values["infra-retries"], 0);
  const infraBackoffMs = backoffList(args.values["infra-backoff"]);
  const usdBudget = dollars("budget-usd", args.values["budget-usd"]);
  const approve = categories(args.values.approve);
  if (approve.length > 0) {
    const why = workerEnvironmentReason(ctx.env, ctx.cwd);
    if (why) {
      throw gateResolverErrors.create(
        "ERR_GATE_APPROVER_IS_WORKER",
        `refusing --approve ${approve.join(",")}: ${why}`,
      );
    }
  }
  const quiet = args.values.quiet === true;
  if (quiet && ndjson)
    throw cliErrors.create("ERR_CLI_USAGE", "--quiet and --ndjson cannot be used together");
  return {
    until,
    ndjson,
    concurrency,
    maxAttempts,
    tokenBudget,
    usdBudget,
    approve,
    quiet,
    infraRetries,
    infraBackoffMs,
  };
}

/** `--budget-usd N`: a number of dollars ≥ 0 (cents allowed), or undefined when absent. */
export function dollars(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) {
    throw cliErrors.create("ERR_CLI_USAGE", `--${name} must be a number of US dollars ≥ 0, e.g. 5 or 2.50`, {
      details: { [name]: v },
    });
  }
  return n;
}

/** The run to work on, and the plan's folder when `dwm run` was given a plan (bindings and policy are looked for there first). */
interface Target {
  resolved: ResolvedRun;
  planDir: string | null;
  /** The plan file `dwm run` was given (a control file of the run when it is in the repository). */
  planFile?: string | null;
}

/** A plan file is compiled first (recompiling its run when it exists); a run directory is taken as is; anything else names a run in the store. */
async function targetOf(args: ParsedArgs, ctx: CommandContext): Promise<Target> {
  const [target] = args.positionals;
  const asPath = target === undefined ? null : path.resolve(ctx.cwd, target);
  if (asPath !== null && fs.existsSync(asPath) && fs.statSync(asPath).isFile())
    return compiledTarget(args, ctx, target as string, asPath);
  if (asPath !== null && isRunDir(asPath)) {
    return {
      resolved: {
        runDir: asPath,
        runId: path.basename(asPath),
        storeDir: path.dirname(asPath),
        ref: target as string,
      },
      planDir: null,
    };
  }
  return { resolved: resolveRun(args, ctx), planDir: null };
}

/** Compile the plan at `planFile` (as `dwm compile` would) and name the run it compiled into. */
async function compiledTarget(
  args: ParsedArgs,
  ctx: CommandContext,
  target: string,
  planFile: string,
): Promise<Target> {
  const planDir = path.dirname(planFile);
  const store = typeof args.values.store === "string" ? args.values.store : undefined;
  const c = await compile(
    { positionals: [target], values: store === undefined ? {} : { store }, json: true },
    ctx,
  );
  const out = c.output as { run_id: string; run_dir: string };
  const root = await toplevel(ctx, planDir);
  return {
    resolved: {
      runDir: path.join(root, out.run_dir),
      runId: out.run_id,
      storeDir: path.dirname(path.join(root, out.run_dir)),
      ref: `${out.run_id}${store === undefined ? "" : ` --store ${store}`}`,
    },
    planDir,
    planFile,
  };
}

/**
 * Repository paths of the files this run is controlled by beyond the ones every review knows
 * (dwm.*.json, .dwm/, workflow.plan.json): the plan file and a `--workers` file, when they are in
 * the repository. A worker's change to one needs a human (REVIEW_CONTROL_FILE_CHANGED).
 */
function controlFilesOf(repo: string, files: readonly (string | null | undefined)[]): string[] {
  return files.flatMap((f) => {
    if (typeof f !== "string") return [];
    let real: string;
    try {
      real = fs.realpathSync(f);
    } catch {
      return [];
    }
    const rel = path.relative(repo, real);
    return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? [] : [rel.split(path.sep).join("/")];
  });
}

/** How progress is shown: NDJSON when asked, nothing under --json or --quiet, a live block on a terminal, else lines. */
export function printerMode(ndjson: boolean, json: boolean, isTTY: boolean, quiet = false): ProgressMode {
  if (ndjson) return "ndjson";
  if (json || quiet) return "none";
  return isTTY ? "tty" : "lines";
}

/** The run's state before this runner starts (for the live view's totals); null when it cannot be read yet. */
function stateBefore(runDir: string): RunState | null {
  try {
    return foldJournal(readJournal(runDir).events, readRun(runDir).run);
  } catch {
    return null;
  }
}

/** Wire the ports (bindings, policy, process runner, queue) and run the workflow until it stops. */
async function execute(
  args: ParsedArgs,
  ctx: CommandContext,
  target: Target,
  opts: RunOptions,
  progress: ProgressView,
): Promise<RunOutcome> {
  const { resolved, planDir } = target;
  const repo = await toplevel(ctx, resolved.runDir);
  const dirs = [...(planDir ? [planDir] : []), repo];
  const { bindings, digest } = findBindings(args, ctx, dirs);
  // An MCP-started run passes --no-policy: an agent that can write a policy file beside its plan
  // (or anywhere in the repository) must not get gates approved with the operator's key.
  const policy = args.values["no-policy"] === true ? null : policyFor(dirs);
  // The operator's key signs --approve and policy approvals and the run's attestations; only trusted keys count.
  const operator = operatorFor(ctx, repo);

  // Command phases (fan-out templates too) run whatever the bindings say: refused unsandboxed unless --no-sandbox.
  const sandbox = await workerSandbox(
    args,
    ctx,
    startsProcesses(bindings, loadRun(resolved.runDir).packets.values()),
  );
  const printer = progress.onProgress;
  // Workers and git are spawned from a small helper process: forking from this one costs more as it grows.
  const processRunner = hostProcessRunner();
  let queue: Awaited<ReturnType<typeof queueFor>>;
  try {
    queue = await queueFor(args, ctx, repo, resolved.runDir, bindings, printer, processRunner);
  } catch (e) {
    await processRunner.close();
    throw e;
  }

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    // With OTEL_EXPORTER_OTLP_ENDPOINT set, the run is traced from its progress events.
    return await tracedRun(ctx, resolved, printer, (onProgress, env) =>
      runWorkflow(
        resolved.runDir,
        {
          clock: ctx.clock,
          processRunner,
          env,
          signal: controller.signal,
          onProgress,
          sandbox,
          // A coordinator draws the run instance its jobs and remote refs are namespaced by.
          ...(queue ? { queue, runInstance: newRunInstance } : {}),
        },
        {
          repo,
          operator,
          bindings,
          bindingsDigest: digest,
          concurrency: opts.concurrency,
          maxAttempts: opts.maxAttempts,
          tokenBudget: opts.tokenBudget,
          ...(opts.usdBudget !== undefined
            ? { usdBudget: opts.usdBudget, costOf: (a) => attemptCost(a, bindings).usd }
            : {}),
          until: opts.until,
          approve:
            opts.approve.length > 0 ? { categories: opts.approve, approver: approverOf(ctx) } : undefined,
          policy,
          abandonQueued: args.values["abandon-queued"] === true,
          infraPolicy: infraPolicyOf(opts, bindings),
          controlFiles: controlFilesOf(repo, [
            target.planFile,
            typeof args.values.workers === "string" ? path.resolve(ctx.cwd, args.values.workers) : null,
          ]),
        },
      ),
    );
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await processRunner.close();
  }
}

/** `dwm run <plan|run>`: compile a plan if given one, then run it until complete, a gate, the budget, or failure. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const opts = runOptions(args, ctx);
  const target = await targetOf(args, ctx);
  checkBeforeChange(target.resolved.runDir, "run", target.resolved.ref, { needsLock: true });
  const progress = createProgress(
    ctx,
    printerMode(opts.ndjson, args.json, ctx.isTTY, opts.quiet),
    stateBefore(target.resolved.runDir),
  );
  let ran: RunOutcome;
  try {
    ran = await execute(args, ctx, target, opts, progress);
  } finally {
    progress.close();
  }
  // The runner's own count leaves out the events its journal opening wrote (run.opened, the
  // lease); the summary counts every event this runner journaled, as the progress showed them.
  const outcome = { ...ran, this_run: { ...ran.this_run, events: progress.events() } };
  return {
    exitCode: outcome.exit_code,
    output: outcome,
    text: opts.ndjson ? JSON.stringify(outcome) : render(outcome, target.resolved.ref),
  };
}
