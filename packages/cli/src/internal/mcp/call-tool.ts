import { codedErrorOf } from "../error-of.js";
import { validArguments } from "./arguments.js";
import { mcpErrors } from "./errors.js";
import type { CallToolResult } from "./sdk.js";
import { TOOL_SPECS } from "./tool-specs.js";
import { TOOL_CALLS, type ToolEnv } from "./tools.js";

/**
 * A failure as an MCP tool error: the DWM error document (code, message, hint, details) as JSON
 * text, coded as the command line codes it (a file-system failure has its ERR_FS_* code).
 */
export function toolError(e: unknown, debug: boolean): CallToolResult {
  const coded = codedErrorOf(e);
  const err =
    debug && coded.code === "ERR_CLI_INTERNAL" && e instanceof Error
      ? { ...coded.toJSON(), details: { stack: e.stack } }
      : coded.toJSON();
  return {
    isError: true,
    content: [{ type: "text", text: JSON.stringify({ kind: "error", error: err }) }],
  };
}

/** Call one tool: check its arguments, run it, and put its JSON document in the result. */
export async function callTool(name: string, args: unknown, env: ToolEnv): Promise<CallToolResult> {
  try {
    const spec = TOOL_SPECS.find((t) => t.name === name);
    const call = TOOL_CALLS[name];
    if (!spec || !call) {
      throw mcpErrors.create("ERR_MCP_UNKNOWN_TOOL", `no tool ${JSON.stringify(name)}`, {
        details: { tool: name, tools: TOOL_SPECS.map((t) => t.name) },
      });
    }
    const r = await call(validArguments(name, spec.inputSchema, args), env);
    return {
      content: [{ type: "text", text: JSON.stringify(r.output) }],
      structuredContent: r.output as Record<string, unknown>,
      _meta: { "dwm/exit_code": r.exitCode },
    };
  } catch (e) {
    return toolError(e, env.ctx.env.DWM_DEBUG === "1");
  }
}

/** A failure reading a resource, as the MCP error to throw: -32002 (the specification's "resource not found") or internal. */
export function resourceError(e: unknown): { code: number; message: string; data: Record<string, unknown> } {
  const doc = toolError(e, false).content[0] as { text: string };
  const { error } = JSON.parse(doc.text) as {
    error: { code: string; message: string } & Record<string, unknown>;
  };
  return {
    code: error.code === "ERR_MCP_RESOURCE_NOT_FOUND" ? -32002 : -32603,
    message: `${error.code}: ${error.message}`,
    data: error,
  };
}
