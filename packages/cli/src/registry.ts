import { RISK_CATEGORIES } from "@dwm/schemas";
import type { CommandSpec, OptionSpec } from "./command.js";
import { BACKEND_NAMES, FLAG_BACKENDS } from "./internal/backend-names.js";
import { storeOption } from "./run-arg.js";
import { sandboxOption } from "./worker-sandbox.js";

const json: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "Print one JSON document on stdout (schema in @dwm/schemas)." },
};

/** PEM files of a rediss:// connection (dwm run --queue, dwm worker, dwm workers). */
const queueTls: Record<string, OptionSpec> = {
  "tls-ca": {
    type: "string",
    description:
      "rediss://: the CA certificate (PEM) that signed Redis's certificate (env DWM_REDIS_TLS_CA).",
    values: "file",
  },
  "tls-cert": {
    type: "string",
    description:
      "rediss://: a client certificate (PEM) for a Redis that requires one (env DWM_REDIS_TLS_CERT).",
    values: "file",
  },
  "tls-key": {
    type: "string",
    description: "rediss://: the client certificate's key (PEM) (env DWM_REDIS_TLS_KEY).",
    values: "file",
  },
};

/** The bindings file whose price table prices the attempts in a view. */
const workersViewOption: Record<string, OptionSpec> = {
  workers: {
    type: "string",
    description:
      "Worker-bindings file whose prices cost the attempts (default dwm.workers.json at the repository root).",
    values: "file",
  },
};

/**
 * Every command of `dwm`. The command reference (`dwm commands`, `dwm --help`)
 * is built from this list; modules load lazily so start-up stays fast.
 */
export const COMMANDS: CommandSpec[] = [
  {
    name: "init",
    usage: "dwm init [--force] [--json]",
    summary:
      "Start in a repository: a starter workflow.plan.json and dwm.workers.json that run as they are (shell workers), a run store git ignores, and the next commands.",
    positionals: { min: 0, max: 0 },
    options: {
      force: {
        type: "boolean",
        description: "Replace workflow.plan.json and dwm.workers.json when they exist.",
      },
      ...json,
    },
    load: () => import("./commands/init.js"),
  },
  {
    name: "doctor",
    usage: "dwm doctor [--json]",
    summary: "Check the environment: Node, git, worktrees, agent CLIs, the current repository.",
    positionals: { min: 0, max: 0 },
    options: { ...json },
    load: () => import("./commands/doctor.js"),
  },
  {
    name: "exec",
    usage:
      "dwm exec <run> <packet> [--backend NAME] [--workers FILE] [--store DIR] [--attempt N] [--timeout MS] [--no-sandbox] [--json]",
    summary:
      "Run one attempt of one packet by hand (evidence in .dwm/exec/, its work at refs/dwm/<run>/attempts/<packet>/exec-<n>) and print its summary.",
    positionals: { min: 2, max: 2 },
    options: {
      backend: {
        type: "string",
        description:
          "Run every worker with this backend: dry-run, codex or claude (shell and command take their argv from a bindings file).",
        values: FLAG_BACKENDS,
      },
      workers: {
        type: "string",
        values: "file",
        description: "Worker-bindings file (default dwm.workers.json at the repository root).",
      },
      store: {
        type: "string",
        values: "file",
        description: "Run store, relative to the repository root (default .dwm/runs).",
      },
      attempt: { type: "string", description: "Attempt number (default: the next one)." },
      timeout: { type: "string", description: "Timeout of each worker invocation, in milliseconds." },
      ...sandboxOption,
      ...json,
    },
    load: () => import("./commands/exec.js"),
  },
  {
    name: "status",
    usage: "dwm status [run] [--store DIR] [--workers FILE] [--json]",
    summary:
      "Where every packet and gate stands, whether the run store is intact, tokens and cost, and the next action.",
    positionals: { min: 0, max: 1 },
    options: { ...storeOption, ...workersViewOption, ...json },
    load: () => import("./commands/status.js"),
  },
  {
    name: "show",
    usage: "dwm show <run> <packet> [--attempt N] [--workers FILE] [--store DIR] [--json]",
    summary:
      "One packet: phase, workers, dependencies, ownership; each attempt with its failing checks, findings, diff stat, tokens and cost; the next command.",
    positionals: { min: 2, max: 2 },
    options: {
      ...storeOption,
      attempt: { type: "string", description: "Only this attempt (default: every attempt)." },
      ...workersViewOption,
      ...json,
    },
    load: () => import("./commands/show.js"),
  },
  {
    name: "report",
    usage: "dwm report [run] [--out FILE] [--open] [--workers FILE] [--store DIR] [--json]",
    summary:
      "The run as one self-contained HTML page: the packet graph (click a packet for its attempts, checks, verdicts, diff stat, tokens and cost), gates and who decided them, the integration, a timeline.",
    positionals: { min: 0, max: 1 },
    options: {
      ...storeOption,
      out: {
        type: "string",
        description: "Write the page here (default .dwm/reports/<run>.html).",
        values: "file",
      },
      open: {
        type: "boolean",
        description: "Open it with $BROWSER, else the system's opener (xdg-open, open).",
      },
      ...workersViewOption,
      ...json,
    },
    load: () => import("./commands/report.js"),
  },
  {
    name: "land",
    usage:
      "dwm land <run> [--into BRANCH] [--ff-only|--merge] [--allow-control-files] [--store DIR] [--json]",
    summary:
      "Bring a completed, verified run's result (its integration branch) into a branch: the one the run started from, or --into BRANCH; refuses uncommitted changes there.",
    positionals: { min: 1, max: 1 },
    options: {
      ...storeOption,
      into: {
        type: "string",
        description:
          "The branch to land into (default: the branch the run started from; made when it does not exist).",
      },
      "ff-only": {
        type: "boolean",
        description: "Only fast-forward: refuse when the branch moved on since the run started.",
      },
      merge: {
        type: "boolean",
        description:
          "Always record a merge commit (by default a branch that did not move is fast-forwarded).",
      },
      "allow-control-files": {
        type: "boolean",
        description:
          "Land a result that changes DWM's control files (dwm.operators.json, dwm.policy.json, dwm.workers.json, .dwm/, workflow.plan.json); refused without it.",
      },
      ...json,
    },
    load: () => import("./commands/land.js"),
  },
  {
    name: "verify",
    usage: "dwm verify [run] [--store DIR] [--json]",
    summary:
      "Check every digest, the journal's hash chain and the run store's files (exit 3 on any problem).",
    positionals: { min: 0, max: 1 },
    options: { ...storeOption, ...json },
    load: () => import("./commands/verify.js"),
  },
  {
    name: "log",
    usage: "dwm log [run] [--store DIR] [--packet ID] [--type TYPE] [--json]",
    summary: "The run's journal, one line per event.",
    positionals: { min: 0, max: 1 },
    options: {
      ...storeOption,
      packet: { type: "string", description: "Only events about this packet." },
      type: { type: "string", description: "Only events of this type (or type prefix, e.g. gate)." },
      ...json,
    },
    load: () => import("./commands/log.js"),
  },
  {
    name: "evaluate",
    usage: "dwm evaluate <plan> [--json] [--render]",
    summary:
      "Validate and score a workflow plan: every problem with its pointer, code and hint (exit 1 when invalid).",
    positionals: { min: 1, max: 1 },
    options: {
      render: { type: "boolean", description: "Print the plan's markdown blueprint instead of the report." },
      ...json,
    },
    load: () => import("./commands/evaluate.js"),
  },
  {
    name: "compile",
    usage: "dwm compile <plan> [--store DIR] [--run ID | --new] [--check] [--json]",
    summary: "Compile a plan into a run: packets, prompts and gates in the run store (create or refresh).",
    positionals: { min: 1, max: 1 },
    options: {
      store: {
        type: "string",
        values: "file",
        description: "Run store, relative to the repository root (default .dwm/runs).",
      },
      run: { type: "string", description: "Compile into this run id (created when absent)." },
      new: { type: "boolean", description: "Make a new run even if the store has a run of this plan." },
      check: {
        type: "boolean",
        description: "Write nothing: report the run's stale or missing artifacts (exit 3 if any).",
      },
      ...json,
    },
    load: () => import("./commands/compile.js"),
  },
  {
    name: "gates",
    usage: "dwm gates [run] [--store DIR] [--json]",
    summary:
      "The run's gates, waiting ones first: what each holds, its risk, safe default, evidence, and how to decide it.",
    positionals: { min: 0, max: 1 },
    options: { ...storeOption, ...json },
    load: () => import("./commands/gates.js"),
  },
  {
    name: "approve",
    usage: "dwm approve <run> <gate> [--reason TEXT] [--store DIR] [--json]",
    summary:
      "Approve a gate as the operator: signs the decision with your key (bound to the gate digest and the integration head), writes approvals/<gate>/<n>.json and journals it.",
    positionals: { min: 2, max: 2 },
    options: {
      ...storeOption,
      reason: { type: "string", description: "Why (recorded in the approval)." },
      ...json,
    },
    load: () => import("./commands/approve.js"),
  },
  {
    name: "reject",
    usage: "dwm reject <run> <gate> --reason TEXT [--packets ID,...] [--store DIR] [--json]",
    summary:
      "Reject a gate: the named packets (and what depends on them) go back for rework with the reason.",
    positionals: { min: 2, max: 2 },
    options: {
      ...storeOption,
      reason: { type: "string", description: "Why (required; the reworked packets get it in their prompt)." },
      packets: {
        type: "string",
        multiple: true,
        description: "Packets to rework (comma-separated or repeated).",
      },
      ...json,
    },
    load: () => import("./commands/reject.js"),
  },
  {
    name: "keys",
    usage: "dwm keys init | dwm keys show | dwm keys trust [<pubkey|file>] [--name NAME] [--json]",
    summary:
      "The operator's Ed25519 signing key (init: make it in the DWM config dir; show: print it) and the repository's trusted keys (trust: add one to dwm.operators.json).",
    positionals: { min: 1, max: 2 },
    options: {
      name: {
        type: "string",
        description: "trust: who holds the key (default: your git name, or the ssh key's comment).",
      },
      ...json,
    },
    load: () => import("./commands/keys.js"),
  },
  {
    name: "attest",
    usage: "dwm attest [run] [--out FILE [--json]] [--store DIR]",
    summary:
      "Export every signed approval and attestation of a verified run as one bundle file (JSON lines of Sigstore bundles); stdout without --out.",
    positionals: { min: 0, max: 1 },
    options: {
      ...storeOption,
      out: {
        type: "string",
        description:
          "Write the bundle to FILE (JSON lines); --json then prints the document naming it (needs --out).",
      },
      ...json,
    },
    load: () => import("./commands/attest.js"),
  },
  {
    name: "run",
    usage:
      "dwm run <plan|run> [--backend B] [--workers FILE] [--concurrency N] [--until gate|complete] [--approve CATEGORY,...] [--max-attempts N] [--token-budget N] [--budget-usd N] [--infra-retries N] [--infra-backoff MS,...] [--queue URL --remote REMOTE [--queue-prefix P] [--tls-ca F] [--tls-cert F --tls-key F]] [--abandon-queued] [--store DIR] [--no-sandbox] [--no-policy] [--quiet|--json|--ndjson]",
    summary:
      "Run a workflow (compiling it first when given a plan) until it is complete, stops at a gate, spends its budget, or fails; resumes after a crash.",
    positionals: { min: 0, max: 1 },
    options: {
      ...storeOption,
      ...sandboxOption,
      backend: {
        type: "string",
        description:
          "Run every worker with this backend: dry-run, codex or claude (shell and command take their argv from a bindings file).",
        values: FLAG_BACKENDS,
      },
      workers: {
        type: "string",
        values: "file",
        description:
          "Worker-bindings file (default dwm.workers.json beside the plan, else at the repository root).",
      },
      concurrency: {
        type: "string",
        description: "Attempts at once (overrides the plan's concurrency_cap).",
      },
      until: {
        type: "string",
        values: ["gate", "complete"],
        description: "gate (default): stop when only gates hold work; complete: wait there for dwm approve.",
      },
      approve: {
        type: "string",
        multiple: true,
        values: RISK_CATEGORIES,
        description:
          "Approve these risk gate categories as the operator (e.g. write,shell-process); recorded.",
      },
      "no-policy": {
        type: "boolean",
        description:
          "Ignore approval policy files (dwm.policy.json): only dwm approve and --approve decide gates. MCP-started runs always pass it.",
      },
      "max-attempts": {
        type: "string",
        description: "Stop (exit 5) once the run has dispatched this many attempts.",
      },
      "token-budget": {
        type: "string",
        description: "Stop (exit 5) once attempts reported this many tokens.",
      },
      "infra-retries": {
        type: "string",
        description:
          "Retries per packet after an infrastructure failure (timeout, crash, rate limit); default infra_retries of the bindings file, else 3.",
      },
      "infra-backoff": {
        type: "string",
        description:
          "Delays before infrastructure retries 1, 2, … in ms (the last repeats), e.g. 5000,30000; default infra_backoff_ms of the bindings file, else 30000,120000,600000.",
      },
      "budget-usd": {
        type: "string",
        description:
          "Stop (exit 5) before dispatching once attempts cost this many US dollars (priced from the bindings' prices table, else the cost the agent CLI reported).",
      },
      queue: {
        type: "string",
        description:
          "Scale out: enqueue attempts on Redis (redis://… or rediss://…) for dwm worker processes; this process stays the only writer of the run.",
      },
      remote: {
        type: "string",
        values: "file",
        description:
          "With --queue: the git remote (URL or bare repository path) workers fetch bases from and push work to.",
      },
      "queue-prefix": {
        type: "string",
        description: "With --queue: BullMQ key prefix shared with the workers (default dwm).",
      },
      "abandon-queued": {
        type: "boolean",
        description:
          "Resume a run whose attempts are in flight in a queue this run does not use (that Redis is gone): abandon them and run them again.",
      },
      ...queueTls,
      ndjson: { type: "boolean", description: "Stream the journal events as JSON lines, then the outcome." },
      quiet: { type: "boolean", description: "No progress lines or live view: only the summary at the end." },
      ...json,
    },
    load: () => import("./commands/run.js"),
  },
  {
    name: "worker",
    usage:
      "dwm worker --queue URL --backends B,... [--concurrency N] [--name NAME] [--cache-dir DIR] [--lock-ms MS] [--stalled-ms MS] [--queue-prefix P] [--tls-ca F] [--tls-cert F --tls-key F] [--no-sandbox] [--json|--ndjson]",
    summary:
      "Execute attempts for coordinators (dwm run --queue) on this machine until SIGINT/SIGTERM; runs only the backends given; never writes a run store.",
    positionals: { min: 0, max: 0 },
    options: {
      queue: {
        type: "string",
        description: "Redis URL: redis://[user:password@]host[:port][/db], or rediss:// for TLS.",
      },
      backends: {
        type: "string",
        multiple: true,
        values: BACKEND_NAMES,
        description:
          "Backends this worker may run (dry-run, shell, codex, claude, command); it takes no other jobs.",
      },
      concurrency: { type: "string", description: "Attempts at once on this worker (default 1)." },
      ...sandboxOption,
      name: { type: "string", description: "Name shown in results and logs (default host:pid)." },
      "cache-dir": {
        type: "string",
        values: "file",
        description:
          "Keep the local clones of run remotes here (default: a temporary folder, removed at exit).",
      },
      "lock-ms": {
        type: "string",
        description:
          "Job lock, renewed every half of it; a dead worker's attempt is lost after it (default 30000).",
      },
      "stalled-ms": {
        type: "string",
        description: "How often this worker looks for other workers' expired job locks (default: --lock-ms).",
      },
      "queue-prefix": {
        type: "string",
        description: "BullMQ key prefix shared with the coordinators (default dwm).",
      },
      ...queueTls,
      ndjson: { type: "boolean", description: "One JSON line per event (ready, started, finished, failed)." },
      ...json,
    },
    load: () => import("./commands/worker.js"),
  },
  {
    name: "workers",
    usage: "dwm workers --queue URL [--queue-prefix P] [--tls-ca F] [--tls-cert F --tls-key F] [--json]",
    summary:
      "The live dwm worker processes of a fleet: host, pid, backends, concurrency, running jobs, last heartbeat.",
    positionals: { min: 0, max: 0 },
    options: {
      queue: {
        type: "string",
        description: "Redis URL: redis://[user:password@]host[:port][/db], or rediss:// for TLS.",
      },
      "queue-prefix": {
        type: "string",
        description: "BullMQ key prefix of the fleet (default dwm).",
      },
      ...queueTls,
      ...json,
    },
    load: () => import("./commands/workers.js"),
  },
  {
    name: "next",
    usage: "dwm next [run] [--store DIR] [--json]",
    summary:
      "The one next safe action for a run (run, approve-gate, inspect-failure, repair-store, wait, land, complete) and its exact command.",
    positionals: { min: 0, max: 1 },
    options: { ...storeOption, ...json },
    load: () => import("./commands/next.js"),
  },
  {
    name: "mcp",
    usage: "dwm mcp",
    summary:
      "Serve DWM to agents over the Model Context Protocol on stdin/stdout: evaluate, compile, run, status, next, show, gates, log, verify, report; the skill and schemas as resources. Never approves or rejects a gate.",
    positionals: { min: 0, max: 0 },
    options: {},
    load: () => import("./commands/mcp.js"),
  },
  {
    name: "completion",
    usage: "dwm completion bash|zsh|fish [--json]",
    summary: "The shell completion script of dwm: commands, options, their values and the store's run ids.",
    positionals: { min: 1, max: 1 },
    options: { ...json },
    load: () => import("./commands/completion.js"),
  },
  {
    name: "commands",
    usage: "dwm commands [--json]",
    summary: "The command reference: every command, its usage and options, and the exit codes.",
    positionals: { min: 0, max: 0 },
    options: { ...json },
    load: () => import("./commands/commands.js"),
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
