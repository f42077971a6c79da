import { defineErrors, EXIT } from "@dwm/core";

/** Errors of @dwm/dispatcher: a run that cannot be run as asked. Domain outcomes (gates, failures) are RunOutcome data. */
export const dispatcherErrors = defineErrors({
  ERR_DISPATCH_NO_REPOSITORY: {
    title:
      "The run has no base commit: it was compiled outside a git repository, so attempts have nothing to start from.",
    hint: "Compile the plan inside a git repository with at least one commit (git init && git commit), then run it.",
  },
  ERR_DISPATCH_BASE_MISSING: {
    title: "The run's base commit or integration branch is not in the repository.",
    hint: "Run from the repository the run was compiled in; a rewritten history needs a new run (dwm compile --new).",
    exitCode: EXIT.integrity,
  },
  ERR_DISPATCH_INTEGRATION_MOVED: {
    title: "The run's integration branch moved while the runner was merging into it.",
    hint: "Something else updated dwm/<run>/integration; stop it and run again.",
    exitCode: EXIT.integrity,
  },
  ERR_DISPATCH_INTEGRATION_REWOUND: {
    title: "The run's integration branch no longer holds work this run merged into it.",
    hint: "Something moved dwm/<run>/integration back or elsewhere; details.missing names the merged commits. Point the branch back at a commit that holds them (git update-ref), or find what moved it, then run again.",
    exitCode: EXIT.integrity,
  },
  ERR_DISPATCH_EVIDENCE_MISSING: {
    title: "An attempt or review the journal names cannot be read back.",
    hint: "Run dwm verify on the run: the run store was changed outside DWM.",
    exitCode: EXIT.integrity,
  },
  ERR_DISPATCH_JOB_DUPLICATE: {
    title: "An attempt was enqueued twice under the same job id.",
    hint: "This is a bug in the caller of the queue: an attempt is dispatched once and its result recorded once.",
  },
  ERR_DISPATCH_QUEUE_CLOSED: {
    title: "The attempt queue was used after it was closed.",
    hint: "Create a new queue for a new run.",
  },
  ERR_DISPATCH_WORKER_CRASHED: {
    title: "Executing an attempt threw something other than a DWM error (a bug or a crash in the worker).",
    hint: "The packet is marked abandoned and dispatched again on the next run; DWM_DEBUG=1 shows more.",
  },
  ERR_QUEUE_URL_INVALID: {
    title: "The --queue URL is not a Redis URL DWM can use.",
    hint: "Give redis://[user:password@]host[:port][/db] or rediss://… for TLS (e.g. redis://127.0.0.1:6379).",
    exitCode: EXIT.usage,
  },
  ERR_QUEUE_UNREACHABLE: {
    title:
      "Redis at the --queue URL did not answer (connection refused, timeout, TLS failure, or AUTH refused).",
    hint: "Check that redis-server runs and listens there, that the password in the URL is right, and rediss:// for TLS.",
  },
  ERR_QUEUE_BACKEND_NOT_ALLOWED: {
    title: "An attempt needs a backend this worker was not started with.",
    hint: "Start workers with the backends the run's bindings use (dwm worker --backends shell,codex); a worker never runs anything else.",
  },
  ERR_QUEUE_REMOTE_FAILED: {
    title: "A git fetch or push between the run's remote and a coordinator or worker failed.",
    hint: "Check that the remote (--remote) is reachable and writable from every machine, with its credentials set up for git (SSH agent or credential helper).",
  },
  ERR_QUEUE_JOB_INVALID: {
    title: "A queue job or its result does not match its schema or its digests.",
    hint: "A coordinator and workers of different DWM versions, or something else writing to the queue: use one version and a queue prefix of its own.",
  },
  ERR_QUEUE_EVIDENCE_MISMATCH: {
    title: "The evidence a worker pushed does not match the digests of its result.",
    hint: "Nothing was written to the run store; the attempt is abandoned. Run dwm run again; if it repeats, check who else pushes to refs/dwm/<run>/ on the remote.",
    exitCode: EXIT.integrity,
  },
  ERR_QUEUE_JOB_FOREIGN: {
    title:
      "A job in Redis under an attempt's id is not the attempt the journal dispatched (another packet, base commit, prompt, binding, inputs or run instance, or digests that are not of its request).",
    hint: "It was not adopted and was removed from Redis (a job a worker is running, once it finished); its result is never recorded; its attempt is abandoned and dispatched again from the journal. Something else writes to this Redis: protect it (password, TLS, a network of its own) and give each trust domain its own --queue-prefix.",
  },
  ERR_QUEUE_RESUME_MISMATCH: {
    title:
      "The run has attempts in flight in a distributed queue, and this runner does not use that queue (--queue missing or another Redis or prefix).",
    hint: "Resume with the queue those attempts went to (dwm run <run> --queue <url> --remote <remote> [--queue-prefix P]) so their jobs are adopted and removed; if that Redis is gone for good, dwm run <run> --abandon-queued runs them again here.",
    exitCode: EXIT.usage,
  },
  ERR_QUEUE_TLS_FILE: {
    title: "A TLS file for the Redis connection (client certificate, key or CA) cannot be read or used.",
    hint: "Give readable PEM files: --tls-cert/--tls-key (both, for a client certificate) and --tls-ca, or DWM_REDIS_TLS_CERT, DWM_REDIS_TLS_KEY, DWM_REDIS_TLS_CA; they need a rediss:// URL.",
    exitCode: EXIT.usage,
  },
  ERR_DISPATCH_OPTION_INVALID: {
    title: "A run option is not usable.",
    hint: "See dwm run --help: --concurrency ≥ 1, --max-attempts ≥ 0, --token-budget ≥ 0, --budget-usd ≥ 0 (with prices), --until gate|complete.",
  },
});
