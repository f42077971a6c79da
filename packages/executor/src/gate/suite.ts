// The executor's manifest gate: each case of fixtures/executor/manifest.json commits a fixture
// repository (fixed identity and dates, so the base commit is the same everywhere), builds an
// attempt request from a packet and worker bindings (parseWorkerBindings, resolveBinding), and
// runs one attempt with runAttempt: real processes and git, the dry-run or shell backend, a
// fake clock. Golden digests cover attempt.json (process durations zeroed, temporary paths
// replaced) and every evidence file.
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, nodeProcessRunner } from "@dwm/core";
import type { Attempt, AttemptRequest, Packet } from "@dwm/schemas";
import {
  applyEdits,
  type CaseContext,
  FakeClock,
  type GateCase,
  type GateSuite,
  git,
  type JsonEdit,
  makeGitRepo,
  readJson,
  scrubPaths,
  treeDigests,
} from "@dwm/test-utils";
import { type ExecutorPorts, parseWorkerBindings, resolveBinding, runAttempt } from "../index.js";

interface ExecutorCase extends GateCase {
  /** A folder below fixtures/executor committed as the repository. */
  repo: string;
  packet: string;
  packet_edits?: JsonEdit[];
  /** A worker-bindings document's `bindings` (worker id or * → binding). */
  bindings: Record<string, unknown>;
  /** Handoff inputs: artifact → content (digest computed unless `input_digests` says otherwise). */
  inputs?: Record<string, string>;
  input_digests?: Record<string, string>;
  /** Edits of the request just before runAttempt (bad inputs). */
  request_edits?: JsonEdit[];
  /** Names from the gate's own environment passed to workers, with values. */
  env?: Record<string, string>;
  /** The attempt folder already holds an attempt.json (a second run of the same attempt). */
  attempt_exists?: boolean;
  /** Where worktrees go: "tmp" (default) or "repo" (inside the repository: refused). */
  worktree_root?: "tmp" | "repo";
}

function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out[r] = fs.readFileSync(path.join(dir, r), "utf8");
    }
  };
  walk("");
  return out;
}

function requestOf(c: ExecutorCase, ctx: CaseContext, repo: string): AttemptRequest {
  const packet = applyEdits(readJson<Packet>(path.join(ctx.fixtures, c.packet)), c.packet_edits);
  const doc = { kind: "worker-bindings", schema_version: "1", bindings: c.bindings };
  const { bindings, digest: bindingsDigest } = parseWorkerBindings(doc, "the case's bindings");
  const inputs = Object.entries(c.inputs ?? {}).map(([artifact, content]) => ({
    artifact,
    digest: c.input_digests?.[artifact] ?? digestBytes(content),
    content_base64: Buffer.from(content).toString("base64"),
  }));
  const request: AttemptRequest = {
    kind: "attempt-request",
    schema_version: "1",
    run_id: "demo-0123456789ab",
    packet,
    prompt: `# ${packet.packet_id}\n\n${packet.instruction}\n`,
    attempt: 1,
    base_commit: git(repo, "rev-parse", "HEAD"),
    binding: resolveBinding(bindings, bindingsDigest, packet),
    inputs: inputs as AttemptRequest["inputs"],
    repair_context: null,
    repo,
    limits: { timeout_ms: 20_000, kill_grace_ms: 200 },
  };
  return applyEdits(request, c.request_edits);
}

/**
 * attempt.json as compared: process durations are wall-clock, temporary paths differ per run,
 * and the executor's version changes with every release (not a change of the artifact's form).
 */
function comparable(a: Attempt, places: Record<string, string>): Attempt {
  return scrubPaths(
    {
      ...a,
      executor_version: "<version>",
      invocations: a.invocations.map((i) => ({ ...i, duration_ms: 0 })),
      checks: a.checks.map((k) => ({ ...k, duration_ms: 0 })),
    },
    places,
  );
}

function observe(a: Attempt): Record<string, unknown> {
  return {
    outcome: a.outcome,
    exit_code: a.exit_code,
    dry_run: a.dry_run,
    branch: a.branch,
    invocations: a.invocations.map((i) => `${i.worker_id}:${i.backend}:${i.outcome}`),
    changed_files: a.changed_files.map((f) => `${f.status} ${f.path}`),
    outputs: a.outputs.map((o) => `${o.artifact}:${o.found ? "found" : "missing"}`),
    checks: a.checks.map((k) => `${k.id}=${k.passed ? "pass" : "fail"}`),
    findings: a.findings.map((f) => `${f.code}:${f.paths.join(",")}`),
    evidence: a.files.map((f) => f.path),
  };
}

/** The executor's gate suite. */
export const executorGate: GateSuite<ExecutorCase> = {
  name: "executor",
  caseKeys: [
    "repo",
    "packet",
    "packet_edits",
    "bindings",
    "inputs",
    "input_digests",
    "request_edits",
    "env",
    "attempt_exists",
    "worktree_root",
  ],
  minCases: 15,
  async runCase(c, ctx) {
    const repo = makeGitRepo(filesOf(path.join(ctx.fixtures, c.repo)));
    ctx.defer(repo.cleanup);
    const attemptDir = path.join(ctx.tmp, "store", "attempts", "build", "1");
    if (c.attempt_exists) {
      fs.mkdirSync(attemptDir, { recursive: true });
      fs.writeFileSync(path.join(attemptDir, "attempt.json"), "{}\n");
    }
    const worktreeRoot = c.worktree_root === "repo" ? path.join(repo.path, "wt") : path.join(ctx.tmp, "wt");
    fs.mkdirSync(worktreeRoot, { recursive: true });
    const ports: ExecutorPorts = {
      processRunner: nodeProcessRunner,
      clock: new FakeClock("2026-03-01T12:00:00.000Z"),
      attemptDir,
      env: { PATH: process.env.PATH, HOME: ctx.tmp, LANG: "C.UTF-8", ...c.env },
      worktreeRoot,
    };
    const attempt = await ctx.outcome(() => runAttempt(requestOf(c, ctx, repo.path), ports));
    if (attempt === undefined) return;
    ctx.checkAll(observe(attempt));
    // A value the worker was given in its environment never reaches the evidence (it is redacted).
    for (const [name, value] of Object.entries(c.env ?? {})) {
      const leaked = Object.keys(treeDigests(attemptDir)).filter((f) =>
        fs.readFileSync(path.join(attemptDir, f), "utf8").includes(value),
      );
      if (leaked.length) ctx.fail(`the value of ${name} is in ${leaked.join(", ")}`);
    }
    ctx.golden("attempt", digest(comparable(attempt, { "<repo>": repo.path, "<tmp>": ctx.tmp })));
    ctx.golden("evidence", digest(treeDigests(attemptDir, ["attempt.json"])));
  },
};
