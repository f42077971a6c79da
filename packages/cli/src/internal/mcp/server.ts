import { isDwmError } from "@dwm/core";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  type JSONRPCMessage,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { CommandContext } from "../../command.js";
import { dwmVersion } from "../../version.js";
import { validArguments } from "./arguments.js";
import { mcpErrors } from "./errors.js";
import { listResources, RESOURCE_TEMPLATES, readResource } from "./resources.js";
import { createRunLauncher, type LauncherOptions } from "./run-launcher.js";
import { bundledSchema, embeddedSchemas } from "./schemas.js";
import { TOOLS, type ToolEnv, type ToolSpec } from "./tools.js";

const INSTRUCTIONS = [
  "DWM (the Deterministic Workflow Machine) runs large agent work as a plan of content-hashed packets with recorded evidence, reviews and human gates.",
  "Design a plan with the skill (resource dwm://skill/SKILL.md), check it with evaluate, start it with run, follow it with status, next and log, look at a packet with show and at gates with gates.",
  "Gates are decided by a person (dwm approve / dwm reject on their terminal): no tool here approves, rejects or changes an approval policy.",
].join(" ");

/** The schema a tool's structured result follows, standalone (every $ref inside it). */
export function outputSchemaOf(spec: ToolSpec): Tool["outputSchema"] | undefined {
  if (spec.output === null) return undefined;
  if (typeof spec.output === "string") return bundledSchema(spec.output) as Tool["outputSchema"];
  const refs = JSON.stringify(spec.output).match(/#\/\$defs\/[a-z0-9-]+/g) ?? [];
  const names = [...new Set(refs.map((r) => r.slice("#/$defs/".length)))];
  return {
    ...spec.output,
    ...(names.length ? { $defs: embeddedSchemas(names) } : {}),
  } as Tool["outputSchema"];
}

/** tools/list: every tool with its input schema, output schema and hints. */
export function toolList(): Tool[] {
  return TOOLS.map((t) => {
    const outputSchema = outputSchemaOf(t);
    return {
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema as Tool["inputSchema"],
      ...(outputSchema ? { outputSchema } : {}),
      annotations: {
        title: t.title,
        readOnlyHint: t.readOnly,
        destructiveHint: false,
        openWorldHint: false,
      },
    };
  });
}

/** A failure as an MCP tool error: the DWM error document (code, message, hint, details) as JSON text. */
export function toolError(e: unknown, debug: boolean): CallToolResult {
  const err = isDwmError(e)
    ? e.toJSON()
    : {
        code: "ERR_CLI_INTERNAL",
        message: e instanceof Error ? e.message : String(e),
        hint: "Run again with DWM_DEBUG=1 for the stack trace and report it.",
        ...(debug && e instanceof Error ? { details: { stack: e.stack } } : {}),
      };
  return {
    isError: true,
    content: [{ type: "text", text: JSON.stringify({ kind: "error", error: err }) }],
  };
}

/** Call one tool: check its arguments, run it, and put its JSON document in the result. */
export async function callTool(name: string, args: unknown, env: ToolEnv): Promise<CallToolResult> {
  try {
    const spec = TOOLS.find((t) => t.name === name);
    if (!spec) {
      throw mcpErrors.create("ERR_MCP_UNKNOWN_TOOL", `no tool ${JSON.stringify(name)}`, {
        details: { tool: name, tools: TOOLS.map((t) => t.name) },
      });
    }
    const r = await spec.call(validArguments(name, spec.inputSchema, args), env);
    return {
      content: [{ type: "text", text: JSON.stringify(r.output) }],
      structuredContent: r.output as Record<string, unknown>,
      _meta: { "dwm/exit_code": r.exitCode },
    };
  } catch (e) {
    return toolError(e, env.ctx.env.DWM_DEBUG === "1");
  }
}

/** DWM's MCP server (not connected): its tools, resources and resource templates. */
export function createMcpServer(ctx: CommandContext, launcher: LauncherOptions = {}): Server {
  const server = new Server(
    { name: "dwm", title: "DWM", version: dwmVersion() },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );
  const env: ToolEnv = { ctx, launch: createRunLauncher(launcher) };
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: toolList() }));
  server.setRequestHandler(CallToolRequestSchema, (req) =>
    callTool(req.params.name, req.params.arguments, env),
  );
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: listResources(ctx) }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: RESOURCE_TEMPLATES,
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    try {
      return { contents: [await readResource(req.params.uri, ctx)] };
    } catch (e) {
      const doc = toolError(e, false).content[0] as { text: string };
      const { error } = JSON.parse(doc.text) as { error: { code: string; message: string } };
      // -32002: the code the MCP specification gives "resource not found".
      const code = error.code === "ERR_MCP_RESOURCE_NOT_FOUND" ? -32002 : ErrorCode.InternalError;
      throw new McpError(code, `${error.code}: ${error.message}`, error);
    }
  });
  return server;
}

/**
 * Serve on stdin/stdout until stdin ends. Requests still being answered when it ends are
 * answered first (a client may write its requests and close at once).
 */
export async function serveStdio(ctx: CommandContext, launcher: LauncherOptions = {}): Promise<void> {
  const server = createMcpServer(ctx, launcher);
  const transport = new StdioServerTransport();
  let inFlight = 0;
  let ended = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const maybeClose = () => {
    if (ended && inFlight === 0) void server.close().then(finish, finish);
  };
  await server.connect(transport);
  const handle = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage) => {
    // A request is in flight until its response goes out through send.
    if ("id" in message && "method" in message) inFlight++;
    handle?.(message);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message: JSONRPCMessage) => {
    await send(message);
    if ("id" in message && !("method" in message)) {
      inFlight = Math.max(0, inFlight - 1);
      maybeClose();
    }
  };
  const closed = transport.onclose;
  transport.onclose = () => {
    closed?.();
    finish();
  };
  process.stdin.once("end", () => {
    ended = true;
    maybeClose();
  });
  await done;
}
