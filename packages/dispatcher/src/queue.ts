import type { Clock } from "@dwm/core";
import { isDwmError } from "@dwm/core";
import type { Attempt, AttemptRequest, ErrorInfo, QueueOrigin } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { dispatcherErrors } from "./errors.js";

/**
 * One attempt on its way to a worker. The request is content, not local paths (the
 * executor's AttemptRequest: packet, prompt, binding, handoff inputs as base64), so
 * the same job can cross a process or machine boundary. `job_id` is deterministic
 * (`<run_id>/<packet_id>/<attempt>`): an attempt is never enqueued twice.
 */
export interface AttemptJob {
  job_id: string;
  request: AttemptRequest;
}

/** The deterministic job id of an attempt: `<run_id>/<packet_id>/<attempt>`. */
export function attemptJobId(runId: string, packetId: string, attempt: number): string {
  return `${runId}/${packetId}/${attempt}`;
}

/**
 * An attempt the journal has in flight, as the journal and the run store say it is: a queue that
 * outlives its coordinator adopts a job only when the job is exactly this attempt.
 */
export interface InFlightAttempt {
  /** The run loop's job id (attemptJobId). */
  job_id: string;
  packet_id: string;
  attempt: number;
  /** Journaled at packet.dispatched. */
  packet_digest: string;
  /** Journaled at packet.dispatched. */
  base_commit: string;
  /** The packet's prompt as the run store holds it (an item packet's: rendered from its packet). */
  prompt_digest: string;
  /** digest of the binding a dispatch of the packet gets. */
  binding_digest: string;
  /** digest of the handoff inputs a dispatch of the packet gets (registered handoffs, checked against their digests). */
  inputs_digest: string;
}

/** What adopt did: the jobs it holds now, and those it refused (the job is not the journal's attempt). */
export interface Adoption {
  adopted: Set<string>;
  refused: Map<string, ErrorInfo>;
}

/** A claim on a job: who runs it and until when, unless renewed. */
export interface Lease {
  job_id: string;
  worker: string;
  /** RFC 3339, from the queue's clock. */
  expires_at: string;
}

/**
 * A job's result, delivered exactly once. `lost`: the worker running it went away (a
 * distributed queue's lease expired); the attempt is abandoned, never judged.
 */
export type AttemptSettlement =
  | { job_id: string; request: AttemptRequest; status: "done"; attempt: Attempt }
  | { job_id: string; request: AttemptRequest; status: "error"; error: ErrorInfo }
  | { job_id: string; request: AttemptRequest; status: "lost"; reason: string };

/**
 * The port between the dispatcher (the only writer of the run store and journal) and
 * whatever executes attempts: the in-process pool here, a BullMQ/Redis queue for
 * scale-out. The dispatcher enqueues, then takes settled results one at a time and
 * records each once.
 */
export interface AttemptQueue {
  /**
   * A distributed queue that outlives its coordinator names itself (journaled with each dispatch,
   * so a runner that resumes the run knows where attempts in flight are). The in-process pool has none.
   */
  readonly origin?: QueueOrigin;
  /** Add a job; ERR_DISPATCH_JOB_DUPLICATE when its id was enqueued before. */
  enqueue(job: AttemptJob): void;
  /** The next settled job (waits for one); null when nothing is queued or running. */
  next(): Promise<AttemptSettlement | null>;
  /** Jobs enqueued and not yet delivered by next(). */
  readonly pending: number;
  /** Current claims (for progress views and lease checks). */
  leases(): Lease[];
  /** Stop claiming new jobs; jobs never claimed settle as errors (ERR_DISPATCH_QUEUE_CLOSED). */
  close(): void;
  /**
   * A queue that outlives its coordinator (Redis): take over jobs an earlier coordinator
   * enqueued that are still waiting, running or finished but not yet recorded, each only when
   * it is the attempt the journal says (a job that claims anything else is refused and never
   * recorded). The run loop abandons the attempts it does not hold. The in-process pool has none.
   */
  adopt?(attempts: readonly InFlightAttempt[]): Promise<Adoption>;
  /** The run loop recorded (or ignored) this job's settlement: a durable queue may forget the job. */
  ack?(jobId: string): void;
  /**
   * The run completed: a queue that left things outside the run store for it (the Redis queue's
   * refs on the git remote) removes them. Failing here does not fail the run.
   */
  finish?(runId: string): Promise<void>;
  /** Release connections once the run loop is done with the queue. */
  dispose?(): Promise<void>;
}

/** Executes one attempt request: `runAttempt` with the ports of this process. */
export type ExecuteAttempt = (request: AttemptRequest, lease: Lease) => Promise<Attempt>;

export interface WorkerPoolOptions {
  /** Jobs running at once (the scheduler's cap keeps the dispatcher below it anyway). */
  concurrency: number;
  execute: ExecuteAttempt;
  clock: Clock;
  /** Lease length; a running job's lease is renewed every third of it. Default 60 s. */
  leaseMs?: number;
  /** Validate each request against the attempt-request schema on enqueue (default true). */
  validate?: boolean;
}

/** A thrown value as ErrorInfo (a DWM error keeps its code; anything else is ERR_DISPATCH_WORKER_CRASHED). */
export function errorInfo(e: unknown): ErrorInfo {
  if (isDwmError(e)) {
    const j = e.toJSON();
    return {
      code: j.code,
      message: j.message,
      ...(j.hint ? { hint: j.hint } : {}),
      ...(j.details ? { details: j.details } : {}),
    };
  }
  return { code: "ERR_DISPATCH_WORKER_CRASHED", message: e instanceof Error ? e.message : String(e) };
}

/**
 * The default AttemptQueue: an in-process pool of `concurrency` workers. Jobs are
 * claimed in enqueue order with a lease the pool renews while the attempt runs; each
 * job settles once (its result or its error), and next() hands settlements over in
 * the order they finished.
 */
export function createWorkerPool(options: WorkerPoolOptions): AttemptQueue {
  const leaseMs = options.leaseMs ?? 60_000;
  const validate = options.validate ?? true;
  const waiting: AttemptJob[] = [];
  const running = new Map<string, { lease: Lease; timer: NodeJS.Timeout }>();
  const settled: AttemptSettlement[] = [];
  const seen = new Set<string>();
  const takers: ((s: AttemptSettlement | null) => void)[] = [];
  let closed = false;
  let workerSeq = 0;

  const expiry = () => new Date(Date.parse(options.clock.now()) + leaseMs).toISOString();

  const deliver = (s: AttemptSettlement) => {
    const take = takers.shift();
    if (take) take(s);
    else settled.push(s);
  };

  const settle = (job: AttemptJob, result: { attempt: Attempt } | { error: ErrorInfo }) => {
    const r = running.get(job.job_id);
    if (!r) return; // settled already: a result is recorded once
    clearInterval(r.timer);
    running.delete(job.job_id);
    deliver(
      "attempt" in result
        ? { job_id: job.job_id, request: job.request, status: "done", attempt: result.attempt }
        : { job_id: job.job_id, request: job.request, status: "error", error: result.error },
    );
    pump();
  };

  const pump = () => {
    while (!closed && running.size < options.concurrency && waiting.length > 0) {
      const job = waiting.shift() as AttemptJob;
      const lease: Lease = { job_id: job.job_id, worker: `pool-${++workerSeq}`, expires_at: expiry() };
      const timer = setInterval(
        () => {
          lease.expires_at = expiry();
        },
        Math.max(10, Math.floor(leaseMs / 3)),
      );
      timer.unref();
      running.set(job.job_id, { lease, timer });
      // Run on a later tick so enqueue never runs an attempt synchronously.
      void Promise.resolve()
        .then(() => options.execute(job.request, lease))
        .then(
          (attempt) => settle(job, { attempt }),
          (e: unknown) => settle(job, { error: errorInfo(e) }),
        );
    }
    if (takers.length > 0 && waiting.length === 0 && running.size === 0 && settled.length === 0) {
      for (const t of takers.splice(0)) t(null);
    }
  };

  return {
    enqueue(job) {
      if (closed) throw dispatcherErrors.create("ERR_DISPATCH_QUEUE_CLOSED", "the attempt queue is closed");
      if (seen.has(job.job_id)) {
        throw dispatcherErrors.create("ERR_DISPATCH_JOB_DUPLICATE", `job ${job.job_id} was enqueued before`, {
          details: { job_id: job.job_id },
        });
      }
      if (validate) {
        const v = validateSchema("attempt-request", job.request);
        if (!v.ok) {
          throw dispatcherErrors.create(
            "ERR_DISPATCH_OPTION_INVALID",
            `job ${job.job_id}: the attempt request does not match its schema`,
            { details: { problems: v.problems.slice(0, 10) } },
          );
        }
      }
      seen.add(job.job_id);
      waiting.push(job);
      pump();
    },
    next() {
      const s = settled.shift();
      if (s) return Promise.resolve(s);
      if (waiting.length === 0 && running.size === 0) return Promise.resolve(null);
      return new Promise((resolve) => takers.push(resolve));
    },
    get pending() {
      return waiting.length + running.size + settled.length;
    },
    leases() {
      return [...running.values()].map((r) => ({ ...r.lease }));
    },
    close() {
      closed = true;
      for (const job of waiting.splice(0)) {
        deliver({
          job_id: job.job_id,
          request: job.request,
          status: "error",
          error: {
            code: "ERR_DISPATCH_QUEUE_CLOSED",
            message: "the queue closed before the job was claimed",
          },
        });
      }
      pump();
    },
  };
}
