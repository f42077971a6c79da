import fs from "node:fs";
import path from "node:path";
import { type LoadedRun, loadRun } from "@dwm/compiler";
import {
  type Clock,
  type Digest,
  digest,
  isDwmError,
  type ProcessRunner,
  readArtifact,
  readJsonFile,
  resolveInside,
  writeArtifact,
} from "@dwm/core";
import {
  attemptFiles,
  createGit,
  type GitPort,
  pruneWorktrees,
  resolveBinding,
  runAttempt,
} from "@dwm/executor";
import {
  loadGateReview,
  pendingApprovals,
  policyApprovals,
  resolveGate,
  writeApproval,
} from "@dwm/gate-resolver";
import {
  DEFAULT_INFRA_RETRY_POLICY,
  type InfraRetryPolicy,
  ingestReview,
  registerHandoffs,
  reviewPath,
} from "@dwm/ingester";
import { renderRepairPrompt, renderReworkPrompt, reviewAttempt } from "@dwm/reviewer";
import { type EventDraft, type Journal, openJournal, readJournal } from "@dwm/runtime";
import { computeFrontier, type FrontierPolicy, FrontierTracker, planLimits } from "@dwm/scheduler";
import type {
  Approval,
  ApprovalPolicy,
  Approver,
  Attempt,
  AttemptInput,
  AttemptLimits,
  AttemptRequest,
  Dispatchable,
  Frontier,
  JournalEvent,
  Packet,
  Review,
  RunOutcome,
  WorkerBindings,
} from "@dwm/schemas";
import { dispatcherErrors } from "./errors.js";
import { FanoutRun, runtimeGateCategory } from "./fanout.js";
import {
  conflictDrafts,
  type IntegrationPorts,
  integrationBranch,
  integrationHead,
  type MergeResult,
  mergeConflictGate,
  mergeConflictGateId,
  mergeIntoIntegration,
} from "./integration.js";
import { type AttemptQueue, type AttemptSettlement, createWorkerPool } from "./queue.js";

/** What the loop reports as it goes: every journal event, plus notes that are not events. */
export type ProgressEvent =
  | {
      kind: "event";
      event: JournalEvent;
      /** The run's frontier when this is read: computed on access (it looks at every packet), null before the loop starts. */
      readonly frontier: Frontier | null;
    }
  | { kind: "note"; message: string };

/** Side effects of a run, passed in. */
export interface DispatcherPorts {
  clock: Clock;
  processRunner: ProcessRunner;
  /** DWM's own environment; workers get only allow-listed names from it. */
  env: Readonly<Record<string, string | undefined>>;
  /** The queue between dispatch and execution; default: an in-process pool running runAttempt. */
  queue?: (execute: (request: AttemptRequest) => Promise<Attempt>, concurrency: number) => AttemptQueue;
  /** Waits (infrastructure backoff, approvals with until=complete). Default: a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Abort to stop cleanly (SIGINT/SIGTERM): running workers are killed, their packets abandoned. */
  signal?: AbortSignal;
  /** Progress: every journal event as it is appended, and notes. */
  onProgress?: (p: ProgressEvent) => void;
  /** Where attempt worktrees are made (outside the repository). Default: os.tmpdir(). */
  worktreeRoot?: string;
  git?: GitPort;
}

export interface RunWorkflowOptions {
  /** The git repository the run belongs to (attempts, integration branch). */
  repo: string;
  bindings: WorkerBindings;
  bindingsDigest: Digest;
  /** `--concurrency`: overrides the plan's parallelism.concurrency_cap. */
  concurrency?: number | undefined;
  /** Total attempts the run may dispatch (its whole history). */
  maxAttempts?: number | undefined;
  /** Tokens the run may spend (backends that report tokens). */
  tokenBudget?: number | undefined;
  /** gate (default): stop when only gates hold work. complete: wait there for approvals (dwm approve). */
  until?: "gate" | "complete" | undefined;
  /** `--approve CATEGORY,...`: the operator approves these risk gate categories, recorded as theirs. */
  approve?: { categories: readonly string[]; approver: Approver } | undefined;
  /** An approval policy file the operator wrote (dwm.policy.json), and its name for the record. */
  policy?: { policy: ApprovalPolicy; name: string } | null | undefined;
  limits?: AttemptLimits | undefined;
  infraPolicy?: InfraRetryPolicy | undefined;
  /** Review of a result nothing could falsify: needs-human (default) or approve. */
  unverifiable?: "needs-human" | "approve" | undefined;
  /** Run-lock lease (default 30 s), renewed every third of it while the runner lives. */
  leaseMs?: number | undefined;
  /** How often to look for approvals while waiting at a gate (until=complete). Default 1000 ms. */
  pollMs?: number | undefined;
  /** For tests: the runner's identity in the lock. */
  pid?: number | undefined;
  host?: string | undefined;
}

const EXIT_OF: Record<RunOutcome["status"], RunOutcome["exit_code"]> = {
  complete: 0,
  gate: 4,
  budget: 5,
  failed: 1,
  interrupted: 1,
};

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function checkOptions(o: RunWorkflowOptions): void {
  const bad = (name: string, v: unknown, min: number) =>
    v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= min)
      ? dispatcherErrors.create("ERR_DISPATCH_OPTION_INVALID", `${name} must be a whole number ≥ ${min}`, {
          details: { [name]: v },
        })
      : null;
  const e =
    bad("concurrency", o.concurrency, 1) ??
    bad("maxAttempts", o.maxAttempts, 0) ??
    bad("tokenBudget", o.tokenBudget, 0);
  if (e) throw e;
  if (o.until !== undefined && o.until !== "gate" && o.until !== "complete") {
    throw dispatcherErrors.create("ERR_DISPATCH_OPTION_INVALID", `until must be gate or complete`, {
      details: { until: o.until },
    });
  }
}

function totalTokens(a: Attempt): number {
  const t = a.tokens;
  if (!t) return 0;
  return t.total_tokens ?? (t.input_tokens ?? 0) + (t.output_tokens ?? 0);
}

const REWORK = /^gate (\S+) rejected: ([\s\S]*)$/;

/**
 * Run a compiled run until it is complete, stopped at a gate, out of budget, failed or
 * interrupted. Takes the run lock (a second runner is refused with ERR_RUN_LOCKED),
 * resumes from the journal (attempts in flight when an earlier runner died are marked
 * abandoned and dispatched again; completed packets never run again), then loops:
 * journal approvals, merge completed work into `dwm/<run>/integration`, compute the
 * frontier, open the gates it names, dispatch ready packets into the queue up to the
 * cap, and record each settled attempt once (attempt.recorded, review, ingest).
 */
export async function runWorkflow(
  runDir: string,
  ports: DispatcherPorts,
  options: RunWorkflowOptions,
): Promise<RunOutcome> {
  checkOptions(options);
  const t0 = ports.clock.monotonicMs();
  const dir = path.resolve(runDir);
  const loaded: LoadedRun = loadRun(dir);
  const runId = loaded.run.run_id;
  const repo = path.resolve(options.repo);
  const baseCommit = loaded.run.base_commit;
  if (baseCommit === null) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_NO_REPOSITORY",
      `run ${runId} was compiled outside a git repository`,
      { details: { run_id: runId } },
    );
  }
  const plan = readJsonFile(path.join(dir, "plan.json"));
  const limits = planLimits(plan);
  // Every packet that may still run needs a binding: refuse before anything is journaled.
  const bindingOf = new Map(
    [...loaded.packets].map(([id, p]) => [id, resolveBinding(options.bindings, options.bindingsDigest, p)]),
  );
  // Schema 0.6 fan-outs: compiled packets plus the item packets expanded so far.
  const fan = new FanoutRun(dir, loaded, options.bindings, options.bindingsDigest);

  const git = ports.git ?? createGit(ports.processRunner, ports.env);
  const gitPorts: IntegrationPorts = { git, clock: ports.clock, repo };
  const baseOk = await git.run(repo, ["rev-parse", "--verify", "--quiet", `${baseCommit}^{commit}`]);
  if (baseOk.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `base commit ${baseCommit} of run ${runId} is not in ${repo}`,
      { details: { base_commit: baseCommit, repo } },
    );
  }

  const journal: Journal = openJournal(dir, {
    clock: ports.clock,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.pid !== undefined ? { pid: options.pid } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
  });

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (ports.signal?.aborted) stop.abort();
  ports.signal?.addEventListener("abort", onAbort, { once: true });
  const sleep = ports.sleep ?? defaultSleep;
  const progress = ports.onProgress ?? (() => {});
  let looping = false;

  const leaseMs = options.leaseMs ?? 30_000;
  let leaseError: unknown = null;
  const renewTimer = setInterval(
    () => {
      try {
        journal.renew();
      } catch (e) {
        leaseError = e;
        stop.abort();
      }
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  renewTimer.unref();

  const activity: RunOutcome["this_run"] = {
    events: 0,
    attempts: 0,
    abandoned: [],
    approvals: [],
    tokens: 0,
    duration_ms: 0,
  };
  // gate.approved/rejected events, for pendingApprovals (which approval files are journaled).
  const decisionEvents: JournalEvent[] = [];
  const notBefore: Record<string, string> = {};
  let tokensUsed = 0;
  let stopFailure: string | null = null;
  // Where new attempts start: the integration branch head (null until the first merge).
  let intHead: string | null = null;
  // intHead is read from git at start and moved by this runner; an operator's decision (a hand
  // merge approved at a conflict gate) may have moved the branch, so it is read again after one.
  let intHeadStale = true;

  // The frontier after each settled attempt, kept event by event (computeFrontier looks at every packet).
  const tracker = new FrontierTracker({
    check: ports.env?.DWM_CHECK_FRONTIER === "1" || process.env.DWM_CHECK_FRONTIER === "1",
  });
  // Packets completed since the last integration pass (all of them when a decision or expansion may matter).
  const toIntegrate = new Set<string>();
  let integrateAll = true;
  const append = (drafts: readonly EventDraft[]): JournalEvent[] => {
    const evs = journal.appendAll(drafts);
    activity.events += evs.length;
    tracker.note(evs);
    for (const e of evs) {
      if (e.type === "packet.completed") toIntegrate.add(e.data.packet_id);
      // A decision may let a conflicted packet's hand merge in; an expansion or recompile changes the packets.
      else if (e.type === "gate.approved" || e.type === "fanout.expanded" || e.type === "run.recompiled")
        integrateAll = true;
      if (e.type === "gate.approved" || e.type === "gate.rejected") decisionEvents.push(e);
      progress({
        kind: "event",
        event: e,
        get frontier() {
          return looping ? computeFrontier(journal.state, fan.view, policyOf()) : null;
        },
      });
      if (e.type === "gate.opened") refuseEarlyApprovals(e.data.gate_id, e.seq);
    }
    return evs;
  };

  /**
   * An unjournaled approval that is already there when a human-gate phase's or run-time gate
   * opens was not written by `dwm approve` for this opening (it refuses such a gate until it is
   * open): a worker could have planted it. It is renamed `<n>.json.refused-<seq>` so no runner ever counts it; verify flags it.
   */
  function refuseEarlyApprovals(gateId: string, seq: number): void {
    // Risk gates may be approved in advance; only gates asked once open (human-gate phases, run-time gates).
    const source = loaded.gates.get(gateId)?.source;
    if (source !== undefined && source !== "human-gate-phase") return;
    for (const p of pendingApprovals(dir, decisionEvents)) {
      if (!p.path.startsWith(`approvals/${gateId}/`)) continue;
      const to = `${p.path}.refused-${seq}`;
      fs.renameSync(resolveInside(dir, p.path, "approval"), resolveInside(dir, to, "approval"));
      progress({
        kind: "note",
        message: `approval ${p.path} was there before gate ${gateId} opened: not counted (kept as ${to})`,
      });
    }
  }

  // Workers get the stop signal (killed like a timeout); git commands finish.
  const runner: ProcessRunner = {
    run: (req) =>
      ports.processRunner.run(req.argv[0] === "git" || req.signal ? req : { ...req, signal: stop.signal }),
  };
  const attemptRel = (id: string, n: number) => `attempts/${id}/${n}`;
  const execute = (request: AttemptRequest) =>
    runAttempt(request, {
      processRunner: runner,
      clock: ports.clock,
      attemptDir: resolveInside(
        dir,
        attemptRel(request.packet.packet_id, request.attempt),
        "attempt directory",
      ),
      env: ports.env,
      git,
      ...(ports.worktreeRoot ? { worktreeRoot: ports.worktreeRoot } : {}),
    });

  const policyOf = (): FrontierPolicy => ({
    concurrency: options.concurrency ?? null,
    planConcurrencyCap: limits.concurrencyCap,
    maxAgents: limits.maxAgents,
    maxAttempts: options.maxAttempts ?? null,
    tokenBudget: options.tokenBudget ?? null,
    tokensUsed,
    notBefore,
    now: ports.clock.now(),
  });
  const cap = () => computeFrontier(journal.state, fan.view, policyOf()).budget.concurrency_cap;
  const queue = (
    ports.queue ?? ((ex, c) => createWorkerPool({ concurrency: c, execute: ex, clock: ports.clock }))
  )(execute, cap());

  try {
    const { events: history } = readJournal(dir);
    // openJournal appended run.opened (new journal), journal.truncated (repair) and the lease event.
    let first = history.length - 1;
    while (first > 0 && ["run.opened", "journal.truncated"].includes(history[first - 1]?.type ?? "")) first--;
    for (const e of history.slice(Math.max(0, first))) progress({ kind: "event", event: e, frontier: null });
    for (const e of history) {
      if (e.type === "gate.approved" || e.type === "gate.rejected") decisionEvents.push(e);
      if (e.type === "attempt.recorded") tokensUsed += tokensOfRecorded(dir, e);
    }

    intHead = await integrationHead(gitPorts, runId);
    intHeadStale = false;
    fan.load(journal.state);
    await recoverOrphans();
    applyOperatorApprovals();
    absorbApprovals();

    let status: RunOutcome["status"] | null = null;
    let detail = "";
    let lastApprovalCheck = ports.clock.monotonicMs();
    // The next() a stop interrupted: its settlement goes to this promise, so the drain awaits it.
    let interruptedNext: Promise<AttemptSettlement | null> | null = null;
    looping = true;
    for (;;) {
      if (stop.signal.aborted) break;
      if (ports.clock.monotonicMs() - lastApprovalCheck >= 250) {
        absorbApprovals();
        lastApprovalCheck = ports.clock.monotonicMs();
      }
      await integrateCompleted();
      let frontier = tracker.frontier(journal.state, fan.view, policyOf());
      for (const g of frontier.open_gates) openGate(g.gate_id, g.packets, g.reason);
      if (frontier.open_gates.length > 0) frontier = tracker.frontier(journal.state, fan.view, policyOf());
      if (frontier.expand.length > 0) {
        for (const first of frontier.expand) expandFanout(first);
        frontier = tracker.frontier(journal.state, fan.view, policyOf());
      }
      if (stopFailure === null) for (const d of frontier.dispatch) dispatch(d);
      if (queue.pending > 0) {
        const next = queue.next();
        const s = await raceStop(next);
        if (s === "stopped") {
          interruptedNext = next;
          break;
        }
        if (s !== null) {
          await record(s);
          queue.ack?.(s.job_id);
        }
        continue;
      }
      if (stopFailure !== null) {
        status = "failed";
        detail = stopFailure;
        break;
      }
      if (frontier.status === "complete") {
        status = "complete";
        detail = `every packet of ${runId} is completed`;
        break;
      }
      if (frontier.status === "running") continue;
      if (frontier.status === "waiting") {
        const now = Date.parse(ports.clock.now());
        const wait = Math.min(...Object.values(notBefore).map((t) => Date.parse(t) - now));
        progress({ kind: "note", message: `waiting ${Math.max(0, wait)} ms for an infrastructure retry` });
        await sleep(Math.max(1, wait), stop.signal);
        continue;
      }
      if (frontier.status === "gate" && options.until === "complete") {
        const before = journal.state.seq;
        absorbApprovals();
        lastApprovalCheck = ports.clock.monotonicMs();
        if (journal.state.seq === before) {
          progress({
            kind: "note",
            message: `waiting for a decision on ${frontier.waiting_gates.join(", ")} (dwm approve ${runId} <gate>)`,
          });
          await sleep(options.pollMs ?? 1000, stop.signal);
        }
        continue;
      }
      status = frontier.status === "gate" ? "gate" : frontier.status === "budget" ? "budget" : "failed";
      detail = describeStop(computeFrontier(journal.state, fan.view, policyOf()));
      break;
    }

    if (stop.signal.aborted) {
      // Drain what was running: each settles (workers were killed) and is abandoned.
      queue.close();
      for (;;) {
        const s = await (interruptedNext ?? queue.next());
        interruptedNext = null;
        if (s === null) break;
        abandon(s.request.packet.packet_id, s.request.attempt, "the runner was interrupted while it ran");
      }
      if (leaseError !== null) throw leaseError;
      status = "interrupted";
      detail = "interrupted: attempts that were running are abandoned and run again on resume";
    }

    if (status === "complete") {
      if (!journal.state.completed) append([{ type: "run.completed", data: {} }]);
      try {
        await queue.finish?.(runId);
      } catch (e) {
        progress({
          kind: "note",
          message: `the run completed; cleaning up after it failed: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    } else {
      append([{ type: "run.stopped", data: { reason: status as "gate", detail } }]);
    }
    return await outcome(status as RunOutcome["status"], detail);
  } finally {
    clearInterval(renewTimer);
    ports.signal?.removeEventListener("abort", onAbort);
    queue.close();
    await queue.dispose?.();
    journal.close();
  }

  // ---- steps -------------------------------------------------------------------------

  async function raceStop<T>(p: Promise<T>): Promise<T | "stopped"> {
    if (stop.signal.aborted) return "stopped";
    let off = () => {};
    const stopped = new Promise<"stopped">((resolve) => {
      const f = () => resolve("stopped");
      stop.signal.addEventListener("abort", f, { once: true });
      off = () => stop.signal.removeEventListener("abort", f);
    });
    try {
      return await Promise.race([p, stopped]);
    } finally {
      off();
    }
  }

  /** Attempts a dead runner left: dispatched → abandoned (and run again); attempted → reviewed now. */
  async function recoverOrphans(): Promise<void> {
    // Temp files of atomic writes a killed runner left (`.<name>.<pid>.<hex>.tmp`): nothing names
    // them, and this runner holds the lock. approvals/ is left alone (`dwm approve` may be writing).
    const temps: string[] = [];
    const walk = (rel: string): void => {
      for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory() && r !== "approvals") walk(r);
        else if (e.isFile() && /^\..+\.[0-9]+\.[0-9a-f]{8}\.tmp$/.test(e.name)) temps.push(r);
      }
    };
    walk("");
    for (const r of temps) fs.rmSync(path.join(dir, r), { force: true });
    if (temps.length > 0)
      progress({ kind: "note", message: `removed temporary files a crash left: ${temps.join(", ")}` });
    const removed = await pruneWorktrees(repo, runId, {
      processRunner: ports.processRunner,
      env: ports.env,
      git,
    });
    if (removed.length > 0)
      progress({ kind: "note", message: `removed worktrees a crash left: ${removed.join(", ")}` });
    // A queue that outlives its coordinator (Redis) still holds what was in flight: those jobs are kept.
    const inFlight = Object.entries(journal.state.packets)
      .filter(([, p]) => p?.state === "dispatched")
      .map(([id, p]) => `${runId}/${id}/${p?.attempts}`);
    const adopted = inFlight.length > 0 && queue.adopt ? await queue.adopt(inFlight) : new Set<string>();
    if (adopted.size > 0)
      progress({
        kind: "note",
        message: `kept ${adopted.size} job(s) still in the queue: ${[...adopted].join(", ")}`,
      });
    for (const [id, p] of Object.entries(journal.state.packets)) {
      if (!p) continue;
      if (p.state === "dispatched" && adopted.has(`${runId}/${id}/${p.attempts}`)) continue;
      if (p.state === "dispatched") {
        abandon(id, p.attempts, `attempt ${p.attempts} was in flight when its runner stopped`);
        activity.abandoned.push(id);
      } else if (p.state === "attempted") {
        const attempt = readRecordedAttempt(id, p.attempts);
        await reviewAndIngest(id, attempt);
      } else if (p.state === "reviewed" && p.last_verdict === "infra-failed") {
        // An infrastructure stop of an earlier runner: running again is the operator's retry.
        append([
          {
            type: "infra.retry-scheduled",
            data: {
              packet_id: id,
              attempt: p.attempts,
              retry: p.infra_retries + 1,
              reason: `retried by a new runner after ${p.last_outcome ?? "an infrastructure failure"}`,
            },
          },
        ]);
      }
    }
  }

  /** packet.abandoned, and the attempt's directory goes: no event names its files. */
  function abandon(id: string, n: number, reason: string): void {
    // The folder goes first: a runner killed in between leaves the packet dispatched (abandoned
    // again on resume), never an abandoned attempt whose unjournaled folder stays behind.
    fs.rmSync(resolveInside(dir, attemptRel(id, n), "attempt directory"), { recursive: true, force: true });
    append([{ type: "packet.abandoned", data: { packet_id: id, attempt: n, reason } }]);
  }

  function readRecordedAttempt(id: string, n: number): Attempt {
    const ev = readJournal(dir).events.findLast(
      (e) => e.type === "attempt.recorded" && e.data.packet_id === id && e.data.attempt === n,
    );
    if (ev?.type !== "attempt.recorded") {
      throw dispatcherErrors.create(
        "ERR_DISPATCH_EVIDENCE_MISSING",
        `no attempt.recorded for ${id} attempt ${n}`,
        {
          details: { packet_id: id, attempt: n },
        },
      );
    }
    return readArtifact<Attempt>(path.join(dir, attemptRel(id, n), "attempt.json"), "attempt", {
      expectDigest: ev.data.attempt_digest,
    }).value;
  }

  function tokensOfRecorded(runDirAbs: string, e: JournalEvent): number {
    if (e.type !== "attempt.recorded") return 0;
    try {
      const a = readArtifact<Attempt>(
        path.join(runDirAbs, attemptRel(e.data.packet_id, e.data.attempt), "attempt.json"),
        "attempt",
      ).value;
      return totalTokens(a);
    } catch {
      return 0;
    }
  }

  function recordApproval(approval: Approval): void {
    const stored = writeApproval(dir, approval);
    const review = loadGateReview(dir, journal.state, journal.state.gates[approval.gate_id]?.packets ?? []);
    const { events, copies } = resolveGate(journal.state, approval, loaded, {
      approvalPath: stored.path,
      review,
    });
    registerHandoffs(dir, copies);
    append(events);
    activity.approvals.push(approval.gate_id);
    intHeadStale = true;
  }

  /** `--approve` and the policy file: approvals of closed risk gates, written and journaled. */
  function applyOperatorApprovals(): void {
    const sources: { approvals: Approval[] }[] = [];
    if (options.approve && options.approve.categories.length > 0) {
      const approver = options.approve.approver;
      const cats = options.approve.categories;
      const list = policyApprovals(
        journal.state,
        loaded,
        { kind: "approval-policy", schema_version: "1", approve: [...cats] as ApprovalPolicy["approve"] },
        { clock: ports.clock, policyName: "dwm run --approve" },
      ).map((a) => ({
        ...a,
        approver,
        reason: `approved by the operator with dwm run --approve ${cats.join(",")}`,
      }));
      sources.push({ approvals: list });
    }
    if (options.policy) {
      sources.push({
        approvals: policyApprovals(journal.state, loaded, options.policy.policy, {
          clock: ports.clock,
          policyName: options.policy.name,
        }),
      });
    }
    const done = new Set<string>();
    for (const s of sources) {
      for (const a of s.approvals) {
        if (done.has(a.gate_id)) continue;
        const g = journal.state.gates[a.gate_id];
        if (g && (g.state === "approved" || g.state === "rejected")) continue;
        recordApproval(a);
        done.add(a.gate_id);
      }
    }
  }

  /** Approvals `dwm approve` wrote while this runner held the lock: checked again, then journaled. */
  function absorbApprovals(): void {
    for (const p of pendingApprovals(dir, decisionEvents)) {
      if (p.approval === null) continue;
      try {
        const review = loadGateReview(
          dir,
          journal.state,
          journal.state.gates[p.approval.gate_id]?.packets ?? [],
        );
        const { events, copies } = resolveGate(journal.state, p.approval, loaded, {
          approvalPath: p.path,
          review,
        });
        registerHandoffs(dir, copies);
        append(events);
        activity.approvals.push(p.approval.gate_id);
        intHeadStale = true;
      } catch (e) {
        if (!isDwmError(e)) throw e;
        progress({ kind: "note", message: `approval ${p.path} not used: ${e.code} ${e.message}` });
      }
    }
  }

  function openGate(gateId: string, packets: string[], reason: string): void {
    const entry = loaded.run.gates.find((g) => g.gate_id === gateId);
    if (!entry) return;
    append([{ type: "gate.opened", data: { gate_id: gateId, gate_digest: entry.digest, packets, reason } }]);
  }

  /** Merge completed packets into the integration branch, in run order (topological, then plan order). */
  async function integrateCompleted(): Promise<void> {
    // Usually one packet completed since the last pass; more (or a decision) and every packet is looked at, in order.
    const ids = integrateAll || toIntegrate.size > 1 ? Object.keys(journal.state.packets) : [...toIntegrate];
    integrateAll = false;
    toIntegrate.clear();
    for (const id of ids) {
      const p = journal.state.packets[id];
      if (p?.state !== "completed" || p.commit === null || p.merged_commit !== null) continue;
      if (p.conflict_gate !== null && journal.state.gates[p.conflict_gate]?.state !== "approved") continue;
      if (intHeadStale || p.conflict_gate !== null) {
        intHead = await integrationHead(gitPorts, runId);
        intHeadStale = false;
      }
      const merge = (head: string | null) =>
        mergeIntoIntegration(gitPorts, {
          runId,
          base: baseCommit as string,
          packetId: id,
          attempt: p.attempts,
          commit: p.commit as string,
          head,
        });
      let r: MergeResult;
      try {
        r = await merge(intHead);
      } catch (e) {
        // Someone else moved the branch (the compare-and-swap refused): merge on top of where it is.
        if (!isDwmError(e) || e.code !== "ERR_DISPATCH_INTEGRATION_MOVED") throw e;
        intHead = await integrationHead(gitPorts, runId);
        r = await merge(intHead);
      }
      if (r.kind === "merged") {
        intHead = r.commit;
        append([{ type: "integration.merged", data: { packet_id: id, commit: r.commit } }]);
        continue;
      }
      let k = 1;
      while (journal.state.gates[mergeConflictGateId(id, p.attempts, k)]) k++;
      const gate = mergeConflictGate({
        gateId: mergeConflictGateId(id, p.attempts, k),
        runId,
        packetId: id,
        attempt: p.attempts,
        paths: r.paths,
        against: touching(r.paths, id),
      });
      append(conflictDrafts(gate, id, r.paths));
    }
  }

  /** Merged packets whose recorded changes touch any of `paths`. */
  function touching(paths: readonly string[], except: string): string[] {
    const want = new Set(paths);
    const out: string[] = [];
    for (const [id, p] of Object.entries(journal.state.packets)) {
      if (!p || id === except || p.merged_commit === null || p.attempts === 0) continue;
      try {
        const a = readArtifact<Attempt>(
          path.join(dir, attemptRel(id, p.attempts), "attempt.json"),
          "attempt",
        ).value;
        if (a.changed_files.some((c) => want.has(c.path))) out.push(id);
      } catch {
        // completed by a gate without evidence of its own
      }
    }
    return out;
  }

  function repairContext(id: string, d: Dispatchable): string | null {
    const p = journal.state.packets[id];
    if (!p) return null;
    if (d.kind === "repair" && p.attempts > 0) {
      const attempt = readRecordedAttempt(id, p.attempts);
      const review = readArtifact<Review>(path.join(dir, reviewPath(id, p.attempts)), "review").value;
      return renderRepairPrompt("", review, attempt).trim();
    }
    const m = p.reason === null ? null : REWORK.exec(p.reason);
    if (d.kind === "rework" && m) {
      return renderReworkPrompt("", { gate_id: m[1] as string, reason: m[2] as string }).trim();
    }
    return null;
  }

  function inputsOf(packet: Packet): AttemptInput[] {
    return fan.inputs(packet, journal.state);
  }

  /** Expand a fan-out the frontier names (item packets + fanout.expanded, a limit gate, or a failure). */
  function expandFanout(first: string): void {
    const r = fan.expand(first, journal.state, (drafts) => append(drafts));
    if (r.kind === "expanded")
      progress({
        kind: "note",
        message: `fan-out ${first}: ${r.items} items, ${r.added} new or changed item packets, ${r.dropped} dropped`,
      });
    else if (r.kind !== "gate") progress({ kind: "note", message: `fan-out ${first}: ${r.reason}` });
  }

  function dispatch(d: Dispatchable): void {
    const id = d.packet_id;
    const packet = fan.packet(id);
    const prompt = fan.prompt(id);
    const binding = bindingOf.get(id) ?? fan.binding(id);
    const packetDigest = fan.digest(id);
    if (!packet || prompt === undefined || !binding || !packetDigest) return;
    const head = intHead ?? (baseCommit as string);
    const request: AttemptRequest = {
      kind: "attempt-request",
      schema_version: "1",
      run_id: runId,
      packet,
      prompt,
      attempt: d.attempt,
      base_commit: head,
      binding,
      inputs: inputsOf(packet),
      repair_context: repairContext(id, d),
      repo,
      limits: options.limits ?? {},
    };
    const backends = [...new Set(Object.values(binding.workers).map((w) => w?.backend ?? "shell"))];
    append([
      {
        type: "packet.dispatched",
        data: {
          packet_id: id,
          attempt: d.attempt,
          packet_digest: packetDigest,
          base_commit: head,
          backend: packet.command ? "shell" : backends.join("+") || "shell",
        },
      },
    ]);
    activity.attempts++;
    queue.enqueue({ job_id: `${runId}/${id}/${d.attempt}`, request });
  }

  async function record(s: AttemptSettlement): Promise<void> {
    const id = s.request.packet.packet_id;
    const n = s.request.attempt;
    const now = journal.state.packets[id];
    if (now?.state !== "dispatched" || now.attempts !== n) {
      // A result for an attempt the journal no longer waits for: recorded once, never twice.
      progress({
        kind: "note",
        message: `ignored a late or duplicate result of ${id} attempt ${n} (${now ? `${now.state}, attempt ${now.attempts}` : "unknown packet"})`,
      });
      return;
    }
    if (s.status === "lost") {
      abandon(id, n, `infrastructure: the worker was lost: ${s.reason}`);
      return;
    }
    if (s.status === "error") {
      abandon(id, n, `the attempt could not run: ${s.error.code}: ${s.error.message}`);
      stopFailure ??= `${id} attempt ${n}: ${s.error.code}: ${s.error.message}`;
      return;
    }
    if (stop.signal.aborted) {
      abandon(id, n, "the runner was interrupted while it ran");
      return;
    }
    const attempt = s.attempt;
    tokensUsed += totalTokens(attempt);
    activity.tokens += totalTokens(attempt);
    append([
      {
        type: "attempt.recorded",
        data: {
          packet_id: id,
          attempt: n,
          outcome: attempt.outcome,
          attempt_digest: digest(attempt),
          files: attemptFiles(attempt, attemptRel(id, n)),
        },
      },
    ]);
    await reviewAndIngest(id, attempt);
  }

  async function reviewAndIngest(id: string, attempt: Attempt): Promise<void> {
    const packet = fan.packet(id) as Packet;
    const n = attempt.attempt;
    const review = await reviewAttempt(packet, attempt, {
      attemptDir: resolveInside(dir, attemptRel(id, n), "attempt directory"),
      clock: ports.clock,
      unverifiable: options.unverifiable,
    });
    writeArtifact(resolveInside(dir, reviewPath(id, n), "review"), "review", review);
    const r = ingestReview(journal.state, review, {
      packet,
      run: journal.run,
      now: ports.clock.now(),
      infraPolicy: options.infraPolicy ?? DEFAULT_INFRA_RETRY_POLICY,
      retryAfterMs: attempt.retry_after_ms,
    });
    registerHandoffs(dir, r.copies);
    append(r.events);
    if (r.next.kind === "infra-retry") notBefore[id] = r.next.not_before;
    else delete notBefore[id];
    if (r.next.kind === "infra-stop") stopFailure ??= `${id}: ${r.next.reason}`;
  }

  function describeStop(f: Frontier): string {
    if (f.status === "gate") return `waiting for a decision on ${f.waiting_gates.join(", ")}`;
    if (f.status === "budget") {
      return f.budget.exhausted === "tokens"
        ? `token budget spent: ${f.budget.tokens_used} of ${f.budget.token_budget}`
        : `attempt budget spent: ${f.budget.attempts_used} of ${f.budget.max_attempts}`;
    }
    const failed = f.failed.map((id) => `${id} (${journal.state.packets[id]?.reason ?? "failed"})`);
    if (failed.length > 0) return `failed: ${failed.join("; ")}`;
    const held = f.blocked.map((b) => `${b.packet_id}: ${b.detail}`);
    return held.length > 0 ? `nothing can run: ${held.join("; ")}` : "nothing can run";
  }

  async function outcome(status: RunOutcome["status"], detail: string): Promise<RunOutcome> {
    const state = journal.state;
    const counts: Record<string, number> = {};
    for (const p of Object.values(state.packets)) if (p) counts[p.state] = (counts[p.state] ?? 0) + 1;
    const f = computeFrontier(state, fan.view, policyOf());
    const waiting = f.waiting_gates.map((g) => ({
      gate_id: g,
      category: loaded.gates.get(g)?.category ?? runtimeGateCategory(g),
      packets: state.gates[g]?.packets.length
        ? [...(state.gates[g]?.packets ?? [])]
        : [...(loaded.gates.get(g)?.packets ?? [])],
      approve_argv: ["dwm", "approve", runId, g],
    }));
    const head = await integrationHead(gitPorts, runId);
    activity.duration_ms = Math.max(0, ports.clock.monotonicMs() - t0);
    const next: RunOutcome["next"] =
      status === "complete"
        ? null
        : status === "gate" && waiting[0]
          ? ["dwm", "approve", runId, waiting[0].gate_id]
          : status === "failed" && f.failed[0]
            ? ["dwm", "log", runId, "--packet", f.failed[0]]
            : ["dwm", "run", runId];
    return {
      kind: "run-outcome",
      schema_version: "1",
      run_id: runId,
      status,
      exit_code: EXIT_OF[status],
      detail,
      seq: state.seq,
      head: state.head as RunOutcome["head"],
      counts,
      waiting_gates: waiting,
      failed: f.failed.map((id) => ({ packet_id: id, reason: state.packets[id]?.reason ?? "failed" })),
      integration: head === null ? null : { branch: integrationBranch(runId), commit: head },
      this_run: activity,
      next,
    };
  }
}
