#!/usr/bin/env node
import module from "node:module";

// Node >= 22.1 can keep the compiled code of the CLI's modules on disk between runs (os.tmpdir(),
// or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): a faster start. It must be on
// before the modules load, hence the dynamic imports below. Node 20 lacks it and starts as before.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

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
