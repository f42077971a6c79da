import { defineErrors, EXIT } from "@dwm/core";

/** Errors of `dwm mcp`, DWM's Model Context Protocol server. */
export const mcpErrors = defineErrors({
  ERR_MCP_ARGUMENTS: {
    title: "A tool's arguments do not match its input schema.",
    hint: "List the tools (tools/list) and send the arguments their inputSchema describes.",
    exitCode: EXIT.usage,
  },
  ERR_MCP_UNKNOWN_TOOL: {
    title: "No DWM tool of that name.",
    hint: "List the tools (tools/list): DWM's tools never approve, reject or change an approval policy.",
    exitCode: EXIT.usage,
  },
  ERR_MCP_RESOURCE_NOT_FOUND: {
    title: "No DWM resource at that URI.",
    hint: "List the resources (resources/list) and the templates (resources/templates/list).",
  },
  ERR_MCP_RUN_FAILED: {
    title: "The `dwm run` started for the run tool failed before it reached a gate or the end.",
    hint: "Read the log named in details.log, fix what it says, and call the run tool again.",
  },
});
