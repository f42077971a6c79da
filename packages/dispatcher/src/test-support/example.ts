// Helpers for this package's tests: an example workflow copied into a fresh git repository.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type CompiledRun, compilePlan, loadRun } from "@dwm/compiler";
import { digest, digestBytes, nodeProcessRunner, readJsonFile } from "@dwm/core";
import { loadWorkerBindings } from "@dwm/executor";
import type { AttemptRequest, WorkerBindings } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, type TempDir, trustTestOperator } from "@dwm/test-utils";
import type { InFlightAttempt } from "../queue.js";
import type { DispatcherPorts, RunWorkflowOptions } from "../run/types.js";

export const EXAMPLES_DIR = fileURLToPath(new URL("../../../../examples", import.meta.url));

function copyDir(from: string, to: string): void {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyDir(a, b);
    } else fs.copyFileSync(a, b);
  }
}

export interface ExampleRepo {
  repo: TempDir;
  compiled: CompiledRun;
  /** Bindings with `pass_env` added for the test hooks. */
  bindings: WorkerBindings;
  bindingsDigest: RunWorkflowOptions["bindingsDigest"];
}

/** Copy examples/<name> into a new git repository (committed), and compile its plan. */
export function exampleRepo(
  name: string,
  passEnv: string[] = [],
  editPlan?: (plan: Record<string, unknown>) => void,
): ExampleRepo {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  copyDir(path.join(EXAMPLES_DIR, name), repo.path);
  const bindingsFile = path.join(repo.path, "dwm.workers.json");
  if (passEnv.length > 0) {
    const b = readJsonFile(bindingsFile) as WorkerBindings;
    for (const v of Object.values(b.bindings)) if (v) v.pass_env = [...(v.pass_env ?? []), ...passEnv];
    fs.writeFileSync(bindingsFile, `${JSON.stringify(b, null, 2)}\n`);
  }
  if (editPlan) {
    const file = path.join(repo.path, "workflow.plan.json");
    const p = readJsonFile(file) as Record<string, unknown>;
    editPlan(p);
    fs.writeFileSync(file, `${JSON.stringify(p, null, 2)}\n`);
  }
  // The test operator's key signs approvals and attestations; the repository trusts it.
  trustTestOperator(repo.path);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", `example ${name}`);
  const plan = readJsonFile(path.join(repo.path, "workflow.plan.json"));
  const compiled = compilePlan(plan, {
    repoRoot: repo.path,
    baseCommit: git(repo.path, "rev-parse", "HEAD"),
  });
  const { bindings, digest } = loadWorkerBindings(bindingsFile);
  return { repo, compiled, bindings, bindingsDigest: digest };
}

export function realPorts(
  env: Record<string, string | undefined> = {},
  worktreeRoot?: string,
): DispatcherPorts {
  return {
    clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
    processRunner: nodeProcessRunner,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    ...(worktreeRoot ? { worktreeRoot } : {}),
  };
}

/** A valid attempt request of the example's first packet (attempt 1, from the run's base commit). */
export function firstAttemptRequest(ex: ExampleRepo): AttemptRequest {
  const loaded = loadRun(ex.compiled.runDir);
  const [first] = [...loaded.packets.values()];
  if (!first) throw new Error("the example has no packets");
  const worker = first.workers[0]?.id ?? "";
  return {
    kind: "attempt-request",
    schema_version: "1",
    run_id: ex.compiled.runId,
    packet: first,
    prompt: loaded.prompts.get(first.packet_id) ?? "",
    attempt: 1,
    base_commit: loaded.run.base_commit ?? "",
    binding: {
      bindings_digest: ex.bindingsDigest,
      workers: { "*": ex.bindings.bindings[worker] ?? { backend: "shell" } },
    },
    inputs: [],
    repair_context: null,
    repo: ex.repo.path,
    limits: {},
  };
}

/** What the journal and the run store say of a dispatched attempt, as recovery hands it to a queue's adopt. */
export function inFlightOf(request: AttemptRequest): InFlightAttempt {
  const { packet, attempt } = request;
  return {
    job_id: `${request.run_id}/${packet.packet_id}/${attempt}`,
    packet_id: packet.packet_id,
    attempt,
    packet_digest: digest(packet),
    base_commit: request.base_commit,
    prompt_digest: digestBytes(request.prompt),
    binding_digest: digest(request.binding),
    inputs_digest: digest(request.inputs),
  };
}
