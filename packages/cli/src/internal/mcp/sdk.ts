// The part of @modelcontextprotocol/sdk that `dwm mcp` serves with. The build replaces the
// compiled dist/internal/mcp/sdk.js with one bundled, minified module of the same exports
// (scripts/bundle-mcp-sdk.mjs): loading the SDK's ~240 modules one by one costs several times
// Node's own start-up, and an MCP client waits for that before each session.
export { Server } from "@modelcontextprotocol/sdk/server/index.js";
export { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
export type { CallToolResult, JSONRPCMessage, Tool } from "@modelcontextprotocol/sdk/types.js";
export {
  CallToolRequestSchema,
  ErrorCode,
  LATEST_PROTOCOL_VERSION,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";
