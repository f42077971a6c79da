import { FLAG_BACKENDS } from "../backend-names.js";

type JsonObject = Record<string, unknown>;

/**
 * One tool of `dwm mcp` as tools/list shows it. What each does is in tools.ts, loaded at the
 * first call: listing the tools must not load DWM's stages (start-up is what a client waits for).
 */
export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  inputSchema: JsonObject;
  /** The schema file in schemas/ its result follows, or an inline schema. */
  output: string | JsonObject;
  readOnly: boolean;
}

const runProp = {
  type: "string",
  description:
    "A run id in the store, or the path of a run directory. Default: the store's only run, else the one that changed last.",
};
const storeProp = {
  type: "string",
  description: "The run store, relative to the repository root (default .dwm/runs).",
};

function object(properties: JsonObject, required: string[] = []): JsonObject {
  return { type: "object", properties, required, additionalProperties: false };
}

/** A tool that is `dwm <name> [run] --store S --json`. */
function runView(name: string, title: string, description: string, output: string): ToolSpec {
  return {
    name,
    title,
    description,
    inputSchema: object({ run: runProp, store: storeProp }),
    output,
    readOnly: true,
  };
}

/** The run tool's result when it starts (or finds running) a detached `dwm run`. */
export const RUN_START_SCHEMA: JsonObject = {
  title: "McpRunStart",
  type: "object",
  required: ["kind", "run_id", "run_dir", "state", "pid", "exit_code", "holder", "log", "follow"],
  additionalProperties: false,
  properties: {
    kind: { const: "mcp-run-start" },
    run_id: { type: "string" },
    run_dir: { description: "The run's directory, relative to the repository root.", type: "string" },
    state: {
      description:
        "started: a detached `dwm run` holds the run now; already-running: another runner held it, nothing was started; finished: the started runner ended before this answer (exit_code says how).",
      enum: ["started", "already-running", "finished"],
    },
    pid: { description: "The runner's process id.", type: ["integer", "null"] },
    exit_code: {
      description: "finished: 0 complete, 4 stopped at a gate, 5 budget spent.",
      type: ["integer", "null"],
    },
    holder: {
      description: "already-running: the live lease on the run.",
      oneOf: [
        {
          type: "object",
          required: ["pid", "host", "expires_at"],
          additionalProperties: false,
          properties: {
            pid: { type: "integer" },
            host: { type: "string" },
            expires_at: { type: "string" },
          },
        },
        { type: "null" },
      ],
    },
    log: {
      description:
        "The runner's NDJSON event stream and errors, relative to the repository root (null when nothing was started).",
      type: ["string", "null"],
    },
    follow: { description: "What to call next to follow the run.", type: "string" },
  },
};

/**
 * Every tool of `dwm mcp`. None approves, rejects or changes an approval policy: gates are
 * decided by a person with `dwm approve` / `dwm reject` (a test holds this list exactly).
 */
export const TOOL_SPECS: readonly ToolSpec[] = [
  {
    name: "evaluate",
    title: "Evaluate a workflow plan",
    description:
      "Validate and score a workflow plan (dwm evaluate): every problem with its JSON pointer, code and hint, and whether to activate it as a workflow or downgrade it. Give the plan as a path (relative to the server's working directory) or as the plan's JSON.",
    inputSchema: object(
      {
        plan: {
          description:
            "A path to workflow.plan.json, or the plan itself (an object, or its JSON text). Schema: dwm://schemas/workflow-plan.schema.json.",
          oneOf: [{ type: "string", minLength: 1 }, { type: "object" }],
        },
      },
      ["plan"],
    ),
    output: "scorecard",
    readOnly: true,
  },
  {
    name: "compile",
    title: "Compile a plan into a run",
    description:
      "Compile a plan file into a run (dwm compile): packets, prompts and gates in the run store, created or refreshed. With check: write nothing, report what is stale.",
    inputSchema: object(
      {
        plan: { type: "string", minLength: 1, description: "Path to the plan file." },
        store: storeProp,
        run: { type: "string", description: "Compile into this run id (created when absent)." },
        new: { type: "boolean", description: "Make a new run even if the store has a run of this plan." },
        check: {
          type: "boolean",
          description: "Write nothing: report the run's stale or missing artifacts.",
        },
      },
      ["plan"],
    ),
    output: {
      type: "object",
      oneOf: [{ $ref: "#/$defs/compile-result.schema.json" }, { $ref: "#/$defs/run-check.schema.json" }],
    },
    readOnly: false,
  },
  {
    name: "run",
    title: "Start or resume a run",
    description:
      "Start or resume a workflow run as a detached `dwm run` (compiling the plan first when given one) and return at once with the run id. The runner goes on until the run is complete, stops at a gate, spends its budget or fails; follow it with status, next and log. Gates are not approved here, and no approval policy file is honoured (the runner gets --no-policy): a person decides them with dwm approve or dwm reject. A second call while a runner holds the run says so and starts nothing.",
    inputSchema: object({
      target: {
        type: "string",
        minLength: 1,
        description:
          "A plan file (compiled first), a run id or a run directory. Default: the store's only run, else the one that changed last.",
      },
      store: storeProp,
      backend: {
        enum: [...FLAG_BACKENDS],
        description:
          "Run every worker with this backend instead of the worker bindings (shell and command take their argv from a bindings file).",
      },
      workers: {
        type: "string",
        description:
          "Worker-bindings file (default dwm.workers.json beside the plan, else at the repository root).",
      },
      concurrency: { type: "integer", minimum: 1, description: "Attempts at once." },
      until: {
        enum: ["gate", "complete"],
        description:
          "gate (default): stop when only gates hold work; complete: wait there for a person's decision.",
      },
      max_attempts: {
        type: "integer",
        minimum: 0,
        description: "Stop once the run has dispatched this many attempts.",
      },
      token_budget: {
        type: "integer",
        minimum: 0,
        description: "Stop once attempts reported this many tokens.",
      },
    }),
    output: RUN_START_SCHEMA,
    readOnly: false,
  },
  runView(
    "status",
    "Where a run stands",
    "Every packet and gate of a run (dwm status), whether its store is intact, and the next action.",
    "status-report",
  ),
  runView(
    "next",
    "The next safe action",
    "The one next safe action for a run (dwm next): run, approve-gate (a person's decision), inspect-failure, repair-store, wait or complete, with the exact command.",
    "next-action",
  ),
  {
    name: "show",
    title: "One packet in detail",
    description:
      "One packet of a run (dwm show): phase, workers, dependencies and gates; each attempt with its outcome, failure class, verdict, failing checks (command, exit code, output tail), findings, diff stat, tokens and cost; the next command.",
    inputSchema: object(
      {
        run: { ...runProp, description: "A run id in the store, or the path of a run directory." },
        packet: { type: "string", minLength: 1, description: "The packet id." },
        attempt: { type: "integer", minimum: 1, description: "Only this attempt (default: every attempt)." },
        store: storeProp,
      },
      ["run", "packet"],
    ),
    output: "packet-detail",
    readOnly: true,
  },
  runView(
    "gates",
    "Gates and what each holds",
    "The run's gates (dwm gates), waiting ones first: what each holds, its risk, safe default, the evidence to look at, and the commands a person runs to decide it.",
    "gates-report",
  ),
  {
    name: "log",
    title: "The run's journal",
    description:
      "The run's journal events (dwm log), filtered by packet and event type; after_seq and limit page through it (pass the last seq seen to follow a running run).",
    inputSchema: object({
      run: runProp,
      store: storeProp,
      packet: { type: "string", description: "Only events about this packet." },
      type: { type: "string", description: "Only events of this type, or type prefix (gate, packet, ...)." },
      after_seq: { type: "integer", minimum: 0, description: "Only events with a larger seq." },
      limit: {
        type: "integer",
        minimum: 1,
        description: "At most this many events (the first ones after after_seq).",
      },
    }),
    output: "journal-log",
    readOnly: true,
  },
  runView(
    "verify",
    "Check a run's integrity",
    "Check every digest, the journal's hash chain and the run store's files (dwm verify); ok false lists each problem.",
    "verify-report",
  ),
  {
    name: "report",
    title: "Write the run's report",
    description:
      "Write the run's self-contained HTML report (dwm report) to .dwm/reports/<run>.html and return where it is, with the packet graph's size and the run's cost.",
    inputSchema: object({ run: runProp, store: storeProp }),
    output: "report-result",
    readOnly: false,
  },
];
