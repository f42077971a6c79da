// Builders shared by the contract tests: a packet, an attempt request, executor ports with a clean
// environment, and the evidence readers the assertions use.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { digest, nodeProcessRunner } from "@dwm/core";
import type { ExecutorPorts } from "@dwm/executor";
import { nextInfraRetry } from "@dwm/ingester";
import { reviewAttempt } from "@dwm/reviewer";
import type {
  Attempt,
  AttemptRequest,
  Packet,
  PacketWorker,
  Review,
  RunState,
  WorkerBinding,
} from "@dwm/schemas";
import { FakeClock, git, type TempDir } from "@dwm/test-utils";
import { dwmEnv } from "./harness.js";

/** The variable DWM reads the gateway key from (binding `api_key_env`). */
export const KEY_ENV = "DWM_CONTRACT_GATEWAY_KEY";
export const KEY_VALUE = "sk-contract-6f1d2c9a8b7e";

/**
 * Settings that keep each CLI off the network beyond the model endpoint (checked with strace on
 * 0.169.0 / 2.1.197: without them Codex looks up github.com and chatgpt.com for plugins and
 * analytics, Claude Code its telemetry hosts).
 */
export const CODEX_OFFLINE_CONFIG = ["analytics.enabled=false", "features.plugins=false"];
export const CLAUDE_OFFLINE_ENV = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" };

/** Variables in DWM's own environment that no worker may see. */
export const PLANTED = {
  CONTRACT_UNRELATED_SECRET: "planted-secret-0a1b2c3d",
  AWS_SECRET_ACCESS_KEY: "planted-aws-4e5f6a7b",
  GITHUB_TOKEN: "ghp_planted8c9d0e1f",
  NODE_OPTIONS: "--max-old-space-size=64",
} as const;

export function worker(id: string, perms: Partial<PacketWorker["tool_permissions"]> = {}): PacketWorker {
  return {
    id,
    role: `${id} role`,
    tool_permissions: {
      read: true,
      write: true,
      shell: true,
      network: false,
      mcp_connectors: [],
      requires_escalation_for: [],
      ...perms,
    },
    ownership: ["src/**"],
    forbidden_actions: [],
    prompt_contract: { inputs: [], required_output_schema: "notes", stop_conditions: [] },
    context_budget: { max_files: 10, max_tokens: 8000, must_include: [], must_exclude: [] },
  };
}

export function packet(id: string, w: PacketWorker, instruction: string): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: id,
    plan_id: "contract",
    phase: { id, name: id, entry_criteria: [], exit_criteria: [], outputs: [] },
    objective: `Contract test ${id}.`,
    instruction,
    depends_on: [],
    workers: [w],
    inputs: [],
    outputs: [],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 1 },
    stop_conditions: [],
    completion_check: null,
  };
}

let runs = 0;

/** A run id no other test (or leftover process) shares: processes are found by it. */
export function uniqueRunId(cli: string): string {
  runs++;
  return `contract-${cli}-${process.pid}-${runs}`;
}

export function request(
  repo: string,
  p: Packet,
  binding: WorkerBinding,
  options: { runId: string; attempt?: number; timeoutMs?: number },
): AttemptRequest {
  const bindings = {
    kind: "worker-bindings" as const,
    schema_version: "1" as const,
    bindings: { "*": binding },
  };
  return {
    kind: "attempt-request",
    schema_version: "1",
    run_id: options.runId,
    packet: p,
    prompt: `# ${p.packet_id}\n\n${p.instruction}\n`,
    attempt: options.attempt ?? 1,
    base_commit: git(repo, "rev-parse", "HEAD"),
    binding: { bindings_digest: digest(bindings), workers: { [p.workers[0]?.id ?? "*"]: binding } },
    inputs: [],
    repair_context: null,
    repo,
    limits: { timeout_ms: options.timeoutMs ?? 30_000, kill_grace_ms: 500 },
  };
}

/** Real processes and git, a pinned clock, DWM's environment with the gateway key and planted secrets. */
export function ports(store: TempDir, name: string, attempt = 1): ExecutorPorts {
  return {
    processRunner: nodeProcessRunner,
    clock: new FakeClock("2026-03-01T12:00:00.000Z"),
    attemptDir: path.join(store.path, "attempts", name, String(attempt)),
    env: dwmEnv(path.join(store.path, "home"), { [KEY_ENV]: KEY_VALUE, ...PLANTED }),
    worktreeRoot: store.path,
  };
}

export function readEvidence(p: ExecutorPorts, rel: string): string {
  return fs.readFileSync(path.join(p.attemptDir, rel), "utf8");
}

/** The parsed JSON lines of the first invocation's transcript. */
export function transcript(p: ExecutorPorts, a: Attempt): Record<string, unknown>[] {
  const rel = a.invocations[0]?.transcript;
  if (rel == null) return [];
  return readEvidence(p, rel)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every file below a directory, as text (to look for leaked secrets). */
export function allText(dir: string): string {
  let s = "";
  const visit = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) visit(f);
      else s += `\n--- ${f}\n${fs.readFileSync(f, "latin1")}`;
    }
  };
  visit(dir);
  return s;
}

/** A loopback URL nothing listens on (a port that was just free). */
export async function unreachableUrl(): Promise<string> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Resolve when `check` holds (polled), or reject after `ms`. */
/**
 * The attempt timeout of the hang tests: long enough for the CLI to start and send its
 * request on a loaded machine (Claude Code took tens of seconds there), short enough to
 * keep the suite quick on an idle one.
 */
export const HANG_TIMEOUT_MS = 15_000;

export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Variable names of a live process (its initial environment). */
export function envNamesOf(pid: number): string[] {
  return fs
    .readFileSync(`/proc/${pid}/environ`, "latin1")
    .split("\0")
    .filter((e) => e !== "")
    .map((e) => e.slice(0, e.indexOf("=")))
    .sort();
}

/** The parent pid of a process; null when it has exited since it was listed (CLIs spawn short-lived helpers). */
export function parentOf(pid: number): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The processes of `pids` whose parent is not among them (exited ones left out). */
export function topProcesses(pids: number[]): number[] {
  return pids.filter((pid) => {
    const parent = parentOf(pid);
    return parent !== null && !pids.includes(parent);
  });
}

/** The run state right after a reviewed attempt (what the journal fold holds then). */
export function stateAfter(runId: string, review: Review, attempt: Attempt): RunState {
  return {
    kind: "run-state",
    schema_version: "1",
    run_id: runId,
    run_digest: `sha256:${"0".repeat(64)}`,
    plan_digest: `sha256:${"0".repeat(64)}`,
    revision: 1,
    seq: 4,
    head: null,
    packets: {
      [review.packet_id]: {
        state: "reviewed",
        attempts: attempt.attempt,
        repairs: 0,
        infra_retries: 0,
        reopens: 0,
        last_outcome: attempt.outcome,
        last_verdict: review.verdict,
        packet_digest: attempt.packet_digest,
        branch: attempt.branch,
        commit: attempt.head_commit,
        merged_commit: null,
        conflict_gate: null,
        reason: null,
        fanout_from: null,
        seq: 4,
      },
    },
    gates: {},
    handoffs: {},
    lease: null,
    completed: false,
    stopped: null,
  };
}

/**
 * DWM's infrastructure-retry path after a rate-limited attempt: the reviewer's verdict and the
 * ingester's backoff rule (policy delay `policyDelayMs`, raised to the attempt's advertised delay).
 */
export async function infraRetryAfter(
  p: Packet,
  attempt: Attempt,
  ports: ExecutorPorts,
  policyDelayMs: number,
): Promise<{ review: Review; delayMs: number }> {
  const review = await reviewAttempt(p, attempt, { attemptDir: ports.attemptDir, clock: ports.clock });
  const decision = nextInfraRetry(
    stateAfter(attempt.run_id, review, attempt),
    p.packet_id,
    { max_retries: 3, delays_ms: [policyDelayMs], retry_outcomes: ["timeout", "crashed", "rate-limited"] },
    ports.clock.now(),
    "rate-limited",
    attempt.retry_after_ms,
  );
  if (!decision.retry) throw new Error(`no infra retry: ${decision.reason}`);
  return { review, delayMs: decision.delay_ms };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
