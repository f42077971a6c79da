import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";

/**
 * `dwm mcp`: DWM's Model Context Protocol server on stdin/stdout, until stdin closes. Its tools
 * call the other commands' modules; none approves, rejects or changes an approval policy.
 */
export async function run(_args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const { serveStdio } = await import("../internal/mcp/server.js");
  // stdout is the protocol's: nothing else may be written there.
  await serveStdio({ ...ctx, isTTY: false, emit: () => {} });
  return { exitCode: 0, output: "" };
}
