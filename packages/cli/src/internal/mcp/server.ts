// First: settings the SDK's zod reads when it loads.
import "./zod-jitless.js";
import type { CommandContext } from "../../command.js";
import { dwmVersion } from "../../version.js";
import { PREBUILT_TOOL_LIST } from "./prebuilt-tools.js";
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

const INSTRUCTIONS = [
  "DWM (the Deterministic Workflow Machine) runs large agent work as a plan of content-hashed packets with recorded evidence, reviews and human gates.",
  "Design a plan with the skill (resource dwm://skill/SKILL.md), check it with evaluate, start it with run, follow it with status, next and log, look at a packet with show and at gates with gates.",
  "Gates are decided by a person (dwm approve / dwm reject on their terminal): no tool here approves, rejects or changes an approval policy.",
].join(" ");

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
  const server = new Server(
    { name: "dwm", title: "DWM", version: dwmVersion() },
    {
      capabilities: { tools: {}, resources: {} },
      instructions: INSTRUCTIONS,
      // The SDK validates only elicitation answers with it, and DWM never elicits: no ajv to load.
      jsonSchemaValidator: {
        getValidator: () => {
          throw new Error("dwm mcp asks its client for nothing");
        },
      },
    },
  );
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
    tools: PREBUILT_TOOL_LIST === null ? toolList() : (JSON.parse(PREBUILT_TOOL_LIST) as Tool[]),
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
