// First: settings the SDK's zod reads when it loads.
import "./zod-jitless.js";
import type { Readable } from "node:stream";
import type { CommandContext } from "../../command.js";
import { CAPABILITIES, INSTRUCTIONS, serverInfo } from "./handshake.js";
import { PREBUILT } from "./prebuilt-tools.js";
import type { LauncherOptions } from "./run-launcher.js";
import { bundledSchema, embeddedSchemas } from "./schemas.js";
import {
  CallToolRequestSchema,
  type JSONRPCMessage,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  Server,
  StdioServerTransport,
  type Tool,
} from "./sdk.js";
import { TOOL_SPECS, type ToolSpec } from "./tool-specs.js";
import type { ToolEnv } from "./tools.js";

// Only what tools/list needs is imported above: a client waits for the handshake and the tool
// list before its session starts, so DWM's stages load at the first call that needs them.

/** The schema a tool's structured result follows, standalone (every $ref inside it). */
export function outputSchemaOf(spec: ToolSpec): Tool["outputSchema"] {
  if (typeof spec.output === "string") return bundledSchema(spec.output) as Tool["outputSchema"];
  const refs = JSON.stringify(spec.output).match(/#\/\$defs\/[a-z0-9-]+\.schema\.json/g) ?? [];
  const names = [...new Set(refs.map((r) => r.slice("#/$defs/".length, -".schema.json".length)))];
  return {
    ...spec.output,
    ...(names.length ? { $defs: embeddedSchemas(names) } : {}),
  } as Tool["outputSchema"];
}

/** tools/list: every tool with its input schema, output schema and hints. */
export function toolList(): Tool[] {
  return TOOL_SPECS.map((t) => {
    return {
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema as Tool["inputSchema"],
      outputSchema: outputSchemaOf(t),
      annotations: {
        title: t.title,
        readOnlyHint: t.readOnly,
        destructiveHint: false,
        openWorldHint: false,
      },
    };
  });
}

/** DWM's MCP server (not connected): its tools, resources and resource templates. */
export function createMcpServer(ctx: CommandContext, launcher: LauncherOptions = {}): Server {
  const server = new Server(serverInfo(), {
    capabilities: CAPABILITIES,
    instructions: INSTRUCTIONS,
    // The SDK validates only elicitation answers with it, and DWM never elicits: no ajv to load.
    jsonSchemaValidator: {
      getValidator: () => {
        throw new Error("dwm mcp asks its client for nothing");
      },
    },
  });
  let launch: ToolEnv["launch"] | null = null;
  const env: ToolEnv = {
    ctx,
    launch: async (args, c) => {
      launch ??= (await import("./run-launcher.js")).createRunLauncher(launcher);
      return launch(args, c);
    },
  };
  const resources = () => import("./resources.js");
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: PREBUILT === null ? toolList() : (JSON.parse(PREBUILT.toolList) as Tool[]),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) =>
    (await import("./call-tool.js")).callTool(req.params.name, req.params.arguments, env),
  );
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: (await resources()).listResources(ctx),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: (await resources()).RESOURCE_TEMPLATES,
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    try {
      return { contents: [await (await resources()).readResource(req.params.uri, ctx)] };
    } catch (e) {
      const err = (await import("./call-tool.js")).resourceError(e);
      throw new McpError(err.code, err.message, err.data);
    }
  });
  return server;
}

/** Where serveStdio reads, and the ids of requests in it that were answered before it started. */
export interface StdioInput {
  input: Readable;
  /** Each id's first answer is not sent again (stdio-front.ts answered the handshake). */
  answered: (string | number)[];
}

/**
 * Serve on stdin (or `from.input`) and stdout until the input ends. Requests still being
 * answered when it ends are answered first (a client may write its requests and close at once).
 */
export async function serveStdio(
  ctx: CommandContext,
  launcher: LauncherOptions = {},
  from: StdioInput = { input: process.stdin, answered: [] },
): Promise<void> {
  const server = createMcpServer(ctx, launcher);
  const transport = new StdioServerTransport(from.input);
  const answered = [...from.answered];
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
    const isAnswer = "id" in message && !("method" in message);
    const again = isAnswer && message.id !== undefined ? answered.indexOf(message.id) : -1;
    if (again >= 0) answered.splice(again, 1);
    else await send(message);
    if (isAnswer) {
      inFlight = Math.max(0, inFlight - 1);
      maybeClose();
    }
  };
  const closed = transport.onclose;
  transport.onclose = () => {
    closed?.();
    finish();
  };
  from.input.once("end", () => {
    ended = true;
    maybeClose();
  });
  await done;
}
