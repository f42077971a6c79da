import { digest, digestBytes } from "@dwm/core";
import type {
  AttemptJob as AttemptJobArtifact,
  AttemptJobResult,
  AttemptRequest,
  BackendName,
  ErrorInfo,
  RateLimit,
} from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import type { AttemptJob, InFlightAttempt } from "../queue.js";
import type { RunIdentity } from "../run-identity.js";
import { jobIdOf, laneOf, queuedAttemptBranch, runRefPrefix } from "./names.js";

// The coordinator's decisions about jobs, apart from Redis: what goes into a job, what a
// finished job settles as, which limit a lane gets, which refs a completed run removes.

/** BullMQ's failedReason for a job whose lock expired (worker lost) with maxStalledCount 0. */
const STALLED = /stalled/i;

/** What a finished job settles as, before its evidence is collected. */
export type JobOutcome =
  | { status: "lost"; reason: string }
  | { status: "error"; error: ErrorInfo }
  | { status: "done"; result: AttemptJobResult };

/** A worker's failure: the ErrorInfo JSON it threw, or BullMQ's own reason (ERR_DISPATCH_WORKER_CRASHED). */
export function failureInfo(reason: string): ErrorInfo {
  try {
    const v = JSON.parse(reason) as ErrorInfo;
    if (typeof v.code === "string" && typeof v.message === "string") return v;
  } catch {
    // not ours
  }
  return { code: "ERR_DISPATCH_WORKER_CRASHED", message: reason };
}

/**
 * Decide what a finished job settles as: a job failed as stalled lost its worker (never a
 * verdict); any other failure is the worker's error; a result that does not match its schema
 * is ERR_QUEUE_JOB_INVALID; anything else is done.
 */
export function finishedOutcome(
  jobId: string,
  finished: { state: "done"; result: unknown } | { state: "failed"; failedReason: string },
): JobOutcome {
  if (finished.state === "failed") {
    const reason = finished.failedReason;
    if (STALLED.test(reason))
      return { status: "lost", reason: `its worker stopped renewing the job's lock (${reason})` };
    return { status: "error", error: failureInfo(reason) };
  }
  const v = validateSchema("attempt-job-result", finished.result);
  if (!v.ok) {
    return {
      status: "error",
      error: {
        code: "ERR_QUEUE_JOB_INVALID",
        message: `the result of job ${jobId} does not match its schema`,
        details: { problems: v.problems.slice(0, 10) },
      },
    };
  }
  return { status: "done", result: finished.result as AttemptJobResult };
}

/** The strictest limit (fewest starts per millisecond) among the lane's backends. */
export function laneLimit(lane: string, limits: Partial<Record<BackendName, RateLimit>>): RateLimit | null {
  let best: RateLimit | null = null;
  for (const b of lane.split("+") as BackendName[]) {
    const l = limits[b];
    if (l && (best === null || l.max / l.duration_ms < best.max / best.duration_ms)) best = l;
  }
  return best;
}

/**
 * The job for an attempt (schema attempt-job): the request with the run's remote as its
 * repository and the attempt branch of this run instance, its id, lane, and the digests a
 * worker checks it by (the request's digest covers the instance, through its branch).
 * ERR_QUEUE_JOB_INVALID when it does not match the schema.
 */
export function attemptJobData(job: AttemptJob, remote: string, run: RunIdentity): AttemptJobArtifact {
  const { packet, attempt } = job.request;
  const request: AttemptRequest = {
    ...job.request,
    repo: remote,
    branch: queuedAttemptBranch(run, packet.packet_id, attempt),
  };
  const jobId = jobIdOf(run, packet.packet_id, attempt);
  const data: AttemptJobArtifact = {
    kind: "attempt-job",
    schema_version: "1",
    job_id: jobId,
    run_instance: run.instance,
    lane: laneOf(request),
    remote,
    packet_digest: digest(request.packet),
    prompt_digest: digestBytes(request.prompt),
    request_digest: digest(request),
    request,
  };
  const v = validateSchema("attempt-job", data);
  if (!v.ok) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_JOB_INVALID",
      `job ${jobId} does not match the attempt-job schema`,
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  return data;
}

/**
 * What a job found in Redis claims that the journal and the run store do not say (empty: it is
 * the attempt they dispatched). Redis is not trusted with what an attempt is: the job id must be
 * the one this coordinator derives for the attempt and its run instance, the request must be the
 * journal's packet (packet.dispatched's digest), base commit and attempt, the run store's prompt,
 * and the binding and handoff inputs a dispatch gets, addressed to this remote and the instance's branch, and every
 * digest the job carries must be recomputed from the request it carries.
 */
export function adoptionProblems(
  found: { lane: string; data: AttemptJobArtifact },
  want: InFlightAttempt,
  run: RunIdentity,
  remote: string,
): string[] {
  const { data } = found;
  const r = data.request;
  const out: string[] = [];
  const differ = (what: string, got: unknown, expected: unknown) => {
    if (got !== expected) out.push(`${what} is ${String(got)}, not ${String(expected)}`);
  };
  differ("the job id", data.job_id, jobIdOf(run, want.packet_id, want.attempt));
  differ("the run instance", data.run_instance, run.instance);
  differ("the run", r.run_id, run.runId);
  differ("the packet", r.packet.packet_id, want.packet_id);
  differ("the attempt", r.attempt, want.attempt);
  differ("the packet digest", digest(r.packet), want.packet_digest);
  differ("the base commit", r.base_commit, want.base_commit);
  differ("the prompt digest", digestBytes(r.prompt), want.prompt_digest);
  differ("the binding digest", digest(r.binding), want.binding_digest);
  differ("the inputs digest", digest(r.inputs), want.inputs_digest);
  differ("the remote", data.remote, remote);
  differ("the request's repository", r.repo, remote);
  differ("the branch", r.branch, queuedAttemptBranch(run, want.packet_id, want.attempt));
  differ("the lane", data.lane, laneOf(r));
  differ("the queue holding it", found.lane, data.lane);
  // The digests a result is checked against are the job's own: each must be of what it carries.
  differ("packet_digest", data.packet_digest, digest(r.packet));
  differ("prompt_digest", data.prompt_digest, digestBytes(r.prompt));
  differ("request_digest", data.request_digest, digest(r));
  return out;
}

/**
 * The refs a completed run instance leaves on the remote, from `git ls-remote` output: every ref
 * under `refs/dwm/<run>/<instance>/` (its base, the evidence and work refs workers pushed, also
 * those of attempts whose worker died after pushing). Refs of other instances and branches stay.
 */
export function runRefsToRemove(lsRemote: string, run: RunIdentity): string[] {
  const prefix = runRefPrefix(run);
  return lsRemote
    .split("\n")
    .map((l) => l.split("\t")[1] ?? "")
    .filter((r) => r.startsWith(prefix));
}
