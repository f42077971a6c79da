import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";

/**
 * `dwm mcp`: DWM's Model Context Protocol server on stdin/stdout, until stdin closes. Its tools
 * call the other commands' modules; none approves, rejects or changes an approval policy.
 */
export async function run(_args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const { serveStdioFront } = await import("../internal/mcp/stdio-front.js");
  // stdout is the protocol's: nothing else may be written there.
  await serveStdioFront({ ...ctx, isTTY: false, emit: () => {} });
  return { exitCode: 0, output: "" };
}

/**
 * `dwm mcp` straight from the bin, without loading the command line's modules first: an MCP
 * client waits for the server's start before its session begins. The same server as `run`.
 */
export async function serveFromBin(): Promise<number> {
  try {
    const { serveStdioFront } = await import("../internal/mcp/stdio-front.js");
    await serveStdioFront({
      cwd: process.cwd(),
      env: process.env,
      clock: { now: () => new Date().toISOString(), monotonicMs: () => performance.now() },
      isTTY: false,
      emit: () => {},
    });
    return 0;
  } catch (e) {
    process.stderr.write(`error ERR_CLI_INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.DWM_DEBUG === "1") process.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
    return 1;
  }
}
