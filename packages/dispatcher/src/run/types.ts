import type { Clock, Digest, ProcessRunner, Sandbox, SigningKey, TrustStore } from "@dwm/core";
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
import type { RunIdentity } from "../run-identity.js";

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
  /**
   * The queue between dispatch and execution; default: an in-process pool running runAttempt.
   * `run` names the run and its instance (a distributed queue namespaces its jobs by both).
   */
  queue?: (
    execute: (request: AttemptRequest) => Promise<Attempt>,
    concurrency: number,
    run: RunIdentity,
  ) => AttemptQueue;
  /**
   * Draws the run instance identity journaled at run.opened when this runner opens a new journal
   * (newRunInstance; `dwm run --queue` gives it). Without it, run.opened carries none and the
   * identity is derived from the journal (runInstance).
   */
  runInstance?: () => string;
  /** Waits (infrastructure backoff, approvals with until=complete). Default: a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Abort to stop cleanly (SIGINT/SIGTERM): running workers are killed, their packets abandoned. */
  signal?: AbortSignal;
  /** Progress: every journal event as it is appended, and notes. */
  onProgress?: (p: ProgressEvent) => void;
  /** Where attempt worktrees are made (outside the repository). Default: os.tmpdir(). */
  worktreeRoot?: string;
  git?: GitPort;
  /** The OS sandbox every worker and check runs in (executor's `sandbox`); default none, recorded in each attempt. */
  sandbox?: Sandbox;
}

export interface RunWorkflowOptions {
  /** The git repository the run belongs to (attempts, integration branch). */
  repo: string;
  /**
   * The operator's key, which signs `--approve` and policy approvals and the run's attestations,
   * and the keys the repository trusts (dwm.operators.json): only approvals signed by one count.
   * The key must be trusted (ERR_KEY_UNTRUSTED).
   */
  operator: { key: SigningKey; trust: TrustStore };
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
  /**
   * Repository paths of control files beyond the ones every review knows (the plan file the run
   * was compiled from): a worker's change to one needs a human (REVIEW_CONTROL_FILE_CHANGED).
   */
  controlFiles?: readonly string[] | undefined;
  /** Run-lock lease (default 30 s), renewed every third of it while the runner lives. */
  leaseMs?: number | undefined;
  /** How often to look for approvals while waiting at a gate (until=complete). Default 1000 ms. */
  pollMs?: number | undefined;
  /**
   * `--abandon-queued`: attempts in flight in a distributed queue this runner does not use are
   * abandoned and run again (their jobs stay where they are). Without it that is refused
   * (ERR_QUEUE_RESUME_MISMATCH).
   */
  abandonQueued?: boolean | undefined;
  /** For tests: the runner's identity in the lock. */
  pid?: number | undefined;
  host?: string | undefined;
}
