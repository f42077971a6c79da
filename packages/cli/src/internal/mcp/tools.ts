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

/** `dwm <name> [positionals] --json` through the command's own module, as `main` would call it. */
export async function callCommand(
  name: string,
  positionals: string[],
  values: Record<string, string | boolean | string[] | undefined>,
  ctx: CommandContext,
): Promise<CommandResult> {
  const { findCommand } = await import("../../registry.js");
  const spec = findCommand(name);
  // Every tool names a registered command: a missing one is a bug (ERR_CLI_INTERNAL), not a user's error.
  if (!spec) throw new Error(`dwm has no command ${name}`);
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

/** `dwm <name> [run] --store S --json`: the read-only views of a run. */
async function runView(name: string, a: Record<string, unknown>, env: ToolEnv): Promise<ToolOutcome> {
  const [pos, values] = runArgs(a);
  const r = await callCommand(name, pos, values, env.ctx);
  return { exitCode: r.exitCode, output: r.output };
}

type Call = (a: Record<string, unknown>, env: ToolEnv) => Promise<ToolOutcome>;

/** What each tool of TOOL_SPECS does (tool-specs.ts), by name. */
export const TOOL_CALLS: Readonly<Record<string, Call>> = {
  evaluate,
  compile: async (a, env) => {
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
  run: async (a, env) => ({ exitCode: 0, output: await env.launch(a, env.ctx) }),
  status: (a, env) => runView("status", a, env),
  next: (a, env) => runView("next", a, env),
  show: async (a, env) => {
    const attempt = typeof a.attempt === "number" ? String(a.attempt) : undefined;
    const r = await callCommand(
      "show",
      [a.run as string, a.packet as string],
      { store: str(a.store), attempt },
      env.ctx,
    );
    return { exitCode: r.exitCode, output: r.output };
  },
  gates: (a, env) => runView("gates", a, env),
  log: async (a, env) => {
    const [pos, values] = runArgs(a);
    const r = await callCommand("log", pos, { ...values, packet: str(a.packet), type: str(a.type) }, env.ctx);
    const doc = r.output as { events: { seq: number }[] };
    const after = typeof a.after_seq === "number" ? a.after_seq : -1;
    const limit = typeof a.limit === "number" ? a.limit : Number.POSITIVE_INFINITY;
    const events = doc.events.filter((e) => e.seq > after).slice(0, limit);
    return { exitCode: r.exitCode, output: { ...doc, events } };
  },
  verify: (a, env) => runView("verify", a, env),
  report: (a, env) => runView("report", a, env),
};
