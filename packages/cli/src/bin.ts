#!/usr/bin/env node
const argv = process.argv.slice(2);

// `dwm mcp` skips loading the command line's modules: an MCP client waits for the server to start.
if (argv.length === 1 && argv[0] === "mcp") {
  const { serveFromBin } = await import("./commands/mcp.js");
  process.exitCode = await serveFromBin();
} else {
  const { main } = await import("./main.js");
  process.exitCode = await main(
    argv,
    {
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
    },
    { isTTY: Boolean(process.stdout.isTTY), columns: process.stdout.columns },
  );
}
