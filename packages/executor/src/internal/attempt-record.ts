import { digest, digestBytes } from "@dwm/core";
import type {
  Attempt,
  AttemptFinding,
  AttemptOutcome,
  AttemptRequest,
  ChangedFile,
  CheckResult,
  Invocation,
  OutputRecord,
  TokenUsage,
} from "@dwm/schemas";
import { executorVersion } from "../version.js";
import { describeFiles, walkFiles } from "./fs-evidence.js";
import { INPUTS_DIR } from "./inputs.js";
import type { CopiedOutput } from "./outputs.js";
import type { DecodedInput } from "./prepare.js";
import { sumTokens } from "./transcripts.js";

/** What an attempt has found so far; each step adds to it, in the order the steps run. */
export interface AttemptRecord {
  /** Decided by the first invocation that does not end ok. */
  outcome: AttemptOutcome;
  invocations: Invocation[];
  /** The last invocation that ran: its exit code and signal are the attempt's. */
  lastRun: Invocation | null;
  retryAfterMs: number | null;
  envNames: Set<string>;
  headCommit: string | null;
  changed: ChangedFile[];
  diff: string | null;
  outputs: OutputRecord[];
  copiedOutputs: CopiedOutput[];
  checks: CheckResult[];
  findings: AttemptFinding[];
  notes: string[];
}

/** The record of an attempt nothing has happened in yet. */
export function emptyRecord(): AttemptRecord {
  return {
    outcome: "ok",
    invocations: [],
    lastRun: null,
    retryAfterMs: null,
    envNames: new Set(),
    headCommit: null,
    changed: [],
    diff: null,
    outputs: [],
    copiedOutputs: [],
    checks: [],
    findings: [],
    notes: [],
  };
}

/** When the attempt ran, from the clock. */
export interface AttemptTimes {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/** The attempt artifact from its request and record; `files` lists the attempt directory as it is now. */
export function assembleAttempt(
  request: AttemptRequest,
  inputs: readonly DecodedInput[],
  where: { attemptDir: string; branch: string; dryRun: boolean; sandbox: string },
  record: AttemptRecord,
  times: AttemptTimes,
): Attempt {
  const r = record;
  return {
    kind: "attempt",
    schema_version: "1",
    executor_version: executorVersion(),
    run_id: request.run_id,
    packet_id: request.packet.packet_id,
    packet_digest: digest(request.packet),
    prompt_digest: digestBytes(request.prompt),
    attempt: request.attempt,
    binding_digest: request.binding.bindings_digest,
    base_commit: request.base_commit,
    branch: r.headCommit === null ? null : where.branch,
    head_commit: r.headCommit,
    started_at: times.startedAt,
    finished_at: times.finishedAt,
    duration_ms: times.durationMs,
    outcome: r.outcome,
    exit_code: r.lastRun?.exit_code ?? null,
    signal: r.lastRun?.signal ?? null,
    dry_run: where.dryRun,
    sandbox: where.sandbox,
    repair_context_digest: request.repair_context === null ? null : digestBytes(request.repair_context),
    env_names: [...r.envNames].sort(),
    inputs: inputs.map((i) => ({
      artifact: i.artifact,
      digest: i.digest,
      path: `${INPUTS_DIR}/${i.artifact}`,
    })),
    invocations: r.invocations,
    changed_files: r.changed,
    diff: r.diff,
    outputs: r.outputs,
    checks: r.checks,
    findings: r.findings,
    notes: r.notes,
    ...(r.retryAfterMs === null ? {} : { retry_after_ms: r.retryAfterMs }),
    tokens: sumTokens(r.invocations.map((i): TokenUsage | null => i.tokens)),
    files: describeFiles(where.attemptDir, walkFiles(where.attemptDir).files),
  };
}
