import type { Clock, Digest, ProcessRunner } from "@dwm/core";
import type { GitPort } from "@dwm/executor";
import type { InfraRetryPolicy } from "@dwm/ingester";
import type {
  ApprovalPolicy,
  Approver,
  Attempt,
  AttemptLimits,
  AttemptRequest,
  Frontier,
  JournalEvent,
  WorkerBindings,
} from "@dwm/schemas";
import type { AttemptQueue } from "../queue.js";

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
  /**
   * US dollars the run may spend (`--budget-usd`), over its whole history; no attempt is
   * dispatched once the spend reaches it. Needs `costOf`: prices stay with the caller.
   */
  usdBudget?: number | undefined;
  /** The cost of a recorded attempt in US dollars, or null when it cannot be priced (counts 0). */
  costOf?: ((attempt: Attempt) => number | null) | undefined;
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
