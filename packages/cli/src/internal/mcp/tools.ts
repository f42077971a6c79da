import type { CommandContext, CommandResult } from "../../command.js";
import { mcpErrors } from "./errors.js";

type JsonObject = Record<string, unknown>;

/** What a tool call gets: the command context of `dwm mcp` (cwd, env, clock) and the run launcher. */
export interface ToolEnv {
  ctx: CommandContext;
  launch: (args: Record<string, unknown>, ctx: CommandContext) => Promise<JsonObject>;
}

/** A tool's answer: the command's exit code and its JSON document. */
export interface ToolOutcome {
  exitCode: number;
  output: unknown;
}

/** One tool of `dwm mcp`. */
export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  inputSchema: JsonObject;
  /** The schema file in schemas/ its result follows, an inline schema, or null (no fixed shape yet). */
  output: string | JsonObject | null;
  readOnly: boolean;
  call(args: Record<string, unknown>, env: ToolEnv): Promise<ToolOutcome>;
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

/** `dwm <name> [positionals] --json` through the command's own module, as `main` would call it. */
export async function callCommand(
  name: string,
  positionals: string[],
  values: Record<string, string | boolean | string[] | undefined>,
  ctx: CommandContext,
): Promise<CommandResult> {
  const { findCommand } = await import("../../registry.js");
  const spec = findCommand(name);
  if (!spec) {
    throw mcpErrors.create("ERR_MCP_COMMAND_UNAVAILABLE", `this dwm has no \`dwm ${name}\` command`, {
      details: { command: name },
    });
  }
  const mod = await spec.load();
  const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  return mod.run({ positionals, values: defined, json: true }, ctx);
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** `[run]` and `--store`, the arguments of every read-only run command. */
function runArgs(a: Record<string, unknown>): [string[], { store: string | undefined }] {
  const run = str(a.run);
  return [run === undefined ? [] : [run], { store: str(a.store) }];
}

/** A tool that is `dwm <command> [run] --store S --json`. */
function runView(name: string, title: string, description: string, output: string): ToolSpec {
  return {
    name,
    title,
    description,
    inputSchema: object({ run: runProp, store: storeProp }),
    output,
    readOnly: true,
    call: async (a, env) => {
      const [pos, values] = runArgs(a);
      const r = await callCommand(name, pos, values, env.ctx);
      return { exitCode: r.exitCode, output: r.output };
    },
  };
}

async function evaluate(a: Record<string, unknown>, env: ToolEnv): Promise<ToolOutcome> {
  let plan = a.plan;
  if (typeof plan === "string" && plan.trimStart().startsWith("{")) {
    try {
      plan = JSON.parse(plan);
    } catch (e) {
      throw mcpErrors.create("ERR_MCP_ARGUMENTS", `plan: not valid JSON: ${(e as Error).message}`, {
        details: { problems: [{ pointer: "/plan", message: "not valid JSON" }] },
      });
    }
  }
  if (typeof plan === "string") {
    const r = await callCommand("evaluate", [plan], {}, env.ctx);
    return { exitCode: r.exitCode, output: r.output };
  }
  // A plan given inline is evaluated as it is: there is no file to read.
  const { evaluatePlan } = await import("@dwm/plan-evaluator");
  const scorecard = evaluatePlan(plan, { source: "mcp:plan" });
  return { exitCode: scorecard.valid ? 0 : 1, output: scorecard };
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
export const TOOLS: readonly ToolSpec[] = [
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
    call: evaluate,
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
    output: { type: "object", oneOf: [{ $ref: "#/$defs/compile-result" }, { $ref: "#/$defs/run-check" }] },
    readOnly: false,
    call: async (a, env) => {
      const r = await callCommand(
        "compile",
        [a.plan as string],
        {
          store: str(a.store),
          run: str(a.run),
          new: a.new === true ? true : undefined,
          check: a.check === true ? true : undefined,
        },
        env.ctx,
      );
      return { exitCode: r.exitCode, output: r.output };
    },
  },
  {
    name: "run",
    title: "Start or resume a run",
    description:
      "Start or resume a workflow run as a detached `dwm run` (compiling the plan first when given one) and return at once with the run id. The runner goes on until the run is complete, stops at a gate, spends its budget or fails; follow it with status, next and log. Gates are not approved here: a person decides them with dwm approve or dwm reject. A second call while a runner holds the run says so and starts nothing.",
    inputSchema: object({
      target: {
        type: "string",
        minLength: 1,
        description:
          "A plan file (compiled first), a run id or a run directory. Default: the store's only run, else the one that changed last.",
      },
      store: storeProp,
      backend: {
        enum: ["dry-run", "shell", "codex", "claude", "command"],
        description: "Run every worker with this backend instead of the worker bindings.",
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
    call: async (a, env) => ({ exitCode: 0, output: await env.launch(a, env.ctx) }),
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
      "One packet of a run (dwm show): the packet, every attempt's evidence summary (outcome, exit, checks, changed files, tokens) and every review.",
    inputSchema: object(
      {
        run: { ...runProp, description: "A run id in the store, or the path of a run directory." },
        packet: { type: "string", minLength: 1, description: "The packet id." },
        store: storeProp,
      },
      ["run", "packet"],
    ),
    output: null,
    readOnly: true,
    call: async (a, env) => {
      const { showPacket } = await import("./packet-view.js");
      return showPacket(a.run as string, a.packet as string, str(a.store), env.ctx);
    },
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
    call: async (a, env) => {
      const [pos, values] = runArgs(a);
      const r = await callCommand(
        "log",
        pos,
        { ...values, packet: str(a.packet), type: str(a.type) },
        env.ctx,
      );
      const doc = r.output as { events: { seq: number }[] };
      const after = typeof a.after_seq === "number" ? a.after_seq : -1;
      const limit = typeof a.limit === "number" ? a.limit : Number.POSITIVE_INFINITY;
      const events = doc.events.filter((e) => e.seq > after).slice(0, limit);
      return { exitCode: r.exitCode, output: { ...doc, events } };
    },
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
    description: "Write the run's self-contained HTML report (dwm report) and return where it is.",
    inputSchema: object({ run: runProp, store: storeProp }),
    output: null,
    readOnly: false,
    call: async (a, env) => {
      const [pos, values] = runArgs(a);
      const r = await callCommand("report", pos, values, env.ctx);
      return { exitCode: r.exitCode, output: r.output };
    },
  },
];
