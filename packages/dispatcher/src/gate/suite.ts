// The dispatcher's manifest gate: each case of fixtures/dispatcher/manifest.json commits a
// fixture repository, compiles a small plan into it (compilePlan), binds its workers to shell
// commands, and runs the run loop with runWorkflow (real processes and git, a fake clock, one
// attempt at a time unless the case says otherwise). A case may run the loop several times,
// deciding gates in between (buildApproval, writeApproval), to prove resume. Golden digests
// cover each outcome, the sequence of journal event types and the integration branch's tree.
import fs from "node:fs";
import path from "node:path";
import { compilePlan } from "@dwm/compiler";
import { digest, nodeProcessRunner } from "@dwm/core";
import { parseWorkerBindings } from "@dwm/executor";
import { openJournal, readJournal, verifyRun } from "@dwm/runtime";
import type { ApprovalPolicy, RunOutcome } from "@dwm/schemas";
import {
  applyEdits,
  type CaseContext,
  FakeClock,
  type FileTamper,
  type GateCase,
  type GateSuite,
  git,
  type JsonEdit,
  makeGitRepo,
  readJson,
  scrubPaths,
  tamperFiles,
} from "@dwm/test-utils";
import { type DispatcherPorts, integrationBranch, type RunWorkflowOptions, runWorkflow } from "../index.js";
import { decideAsOperator, OPERATOR } from "../test-support/operator.js";

/** A decision taken between two runs of the loop, as `dwm approve` / `dwm reject` would. */
interface Decision {
  gate: string;
  decision?: "approve" | "reject";
  reason?: string;
  packets?: string[];
}

interface DispatcherCase extends GateCase {
  /** A folder below fixtures/dispatcher committed as the repository. */
  repo: string;
  plan: string;
  plan_edits?: JsonEdit[];
  /** Worker id (or *) → binding. */
  bindings: Record<string, unknown>;
  options?: {
    concurrency?: number;
    max_attempts?: number;
    approve?: string[];
    policy?: string[];
    unverifiable?: "needs-human" | "approve";
    infra_policy?: RunWorkflowOptions["infraPolicy"];
    timeout_ms?: number;
  };
  /** Decisions before run 2, 3, …: one list per later run (default: one run). */
  then?: Decision[][];
  /** Changes to the run store before the first run (bad inputs). */
  tamper?: FileTamper[];
  /** Compile without a base commit (as outside a git repository). */
  no_base_commit?: boolean;
  /** Another runner holds the run's lock. */
  locked?: boolean;
}

interface Prepared {
  repo: string;
  runDir: string;
  options: RunWorkflowOptions;
}

function filesOf(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesOf(dir, r));
    else out[r] = fs.readFileSync(path.join(dir, r), "utf8");
  }
  return out;
}

function optionsOf(c: DispatcherCase, repo: string): RunWorkflowOptions {
  const doc = { kind: "worker-bindings", schema_version: "1", bindings: c.bindings };
  const { bindings, digest: bindingsDigest } = parseWorkerBindings(doc, "the case's bindings");
  const o = c.options ?? {};
  const policy: ApprovalPolicy | undefined = o.policy && {
    kind: "approval-policy",
    schema_version: "1",
    approve: o.policy as ApprovalPolicy["approve"],
  };
  return {
    repo,
    operator: OPERATOR,
    bindings,
    bindingsDigest,
    concurrency: o.concurrency ?? 1,
    maxAttempts: o.max_attempts,
    approve: o.approve && { categories: o.approve, approver: { name: "Gate Operator", source: "os-user" } },
    policy: policy ? { policy, name: "dwm.policy.json" } : null,
    unverifiable: o.unverifiable,
    infraPolicy: o.infra_policy,
    limits: { timeout_ms: o.timeout_ms ?? 60_000, kill_grace_ms: 200 },
    pid: 1,
    host: "gate-runner",
  };
}

function prepare(c: DispatcherCase, ctx: CaseContext): Prepared {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n", ...filesOf(path.join(ctx.fixtures, c.repo)) });
  ctx.defer(repo.cleanup);
  const plan = applyEdits(readJson(path.join(ctx.fixtures, c.plan)), c.plan_edits);
  const baseCommit = c.no_base_commit ? null : git(repo.path, "rev-parse", "HEAD");
  const compiled = compilePlan(plan, { repoRoot: repo.path, baseCommit });
  tamperFiles(compiled.runDir, c.tamper);
  if (c.locked) {
    const holder = openJournal(compiled.runDir, { clock: new FakeClock(), pid: 2, host: "other-runner" });
    ctx.defer(() => holder.close());
  }
  return { repo: repo.path, runDir: compiled.runDir, options: optionsOf(c, repo.path) };
}

function decide(runDir: string, repo: string, d: Decision): void {
  decideAsOperator(runDir, repo, {
    gate: d.gate,
    decision: d.decision ?? "approve",
    reason: d.reason ?? "checked by the gate",
    packets: d.packets ?? [],
    clock: new FakeClock("2026-01-01T06:00:00.000Z"),
  });
}

function portsOf(ctx: CaseContext): DispatcherPorts {
  const worktrees = path.join(ctx.tmp, "worktrees");
  fs.mkdirSync(worktrees, { recursive: true });
  const clock = new FakeClock("2026-01-01T00:00:00.000Z", 1);
  return {
    clock,
    processRunner: nodeProcessRunner,
    env: { PATH: process.env.PATH, HOME: ctx.tmp, LANG: "C.UTF-8" },
    worktreeRoot: worktrees,
    // Backoff waits on the fake clock, not on the wall clock.
    sleep: async (ms) => clock.advance(ms),
  };
}

function outcomeView(o: RunOutcome): Record<string, unknown> {
  return {
    status: o.status,
    exit_code: o.exit_code,
    detail: o.detail,
    counts: o.counts,
    waiting_gates: o.waiting_gates.map((g) => g.gate_id),
    failed: o.failed,
    attempts: o.this_run.attempts,
    approvals: o.this_run.approvals,
  };
}

/** What a run leaves: the journal's event types, whether it verifies, the integration branch's files. */
function storeView(p: Prepared, runId: string): { view: Record<string, unknown>; tree: string } {
  const types = readJournal(p.runDir).events.map((e) => e.type);
  const branch = integrationBranch(runId);
  let files: string[] = [];
  let tree = "no integration branch";
  // No branch yet when nothing was merged.
  if (git(p.repo, "branch", "--list", branch) !== "") {
    tree = git(p.repo, "rev-parse", `${branch}^{tree}`);
    files = git(p.repo, "ls-tree", "-r", "--name-only", branch).split("\n").filter(Boolean);
  }
  return {
    view: {
      types,
      verify: verifyRun(p.runDir, { trust: OPERATOR.trust }).problems.map((x) => x.code),
      integrated: files,
    },
    tree,
  };
}

/** The dispatcher's gate suite. */
export const dispatcherGate: GateSuite<DispatcherCase> = {
  name: "dispatcher",
  caseKeys: [
    "repo",
    "plan",
    "plan_edits",
    "bindings",
    "options",
    "then",
    "tamper",
    "no_base_commit",
    "locked",
  ],
  minCases: 15,
  caseTimeoutMs: 180_000,
  async runCase(c, ctx) {
    const p = prepare(c, ctx);
    const outcomes: Record<string, unknown>[] = [];
    const rounds = [[], ...(c.then ?? [])];
    let last: RunOutcome | undefined;
    for (const [i, decisions] of rounds.entries()) {
      for (const d of decisions) decide(p.runDir, p.repo, d);
      last = await ctx.outcome(() => runWorkflow(p.runDir, portsOf(ctx), p.options));
      if (last === undefined) return;
      outcomes.push(outcomeView(last));
      // The journal's head digest covers attempt digests, and attempts record process durations.
      const comparable = { ...last, head: "<journal head>" };
      ctx.golden(`outcome-${i + 1}`, digest(scrubPaths(comparable, { "<repo>": p.repo, "<tmp>": ctx.tmp })));
    }
    if (last === undefined) return;
    const { view, tree } = storeView(p, last.run_id);
    ctx.checkAll({
      ...(outcomes.at(-1) ?? {}),
      runs: outcomes.map((o) => `${o.status}:${o.exit_code}`),
      ...view,
    });
    ctx.golden("journal-types", digest(view.types));
    ctx.golden("integration-tree", digest(tree));
  },
};
