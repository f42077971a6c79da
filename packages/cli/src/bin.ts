#!/usr/bin/env node
import module from "node:module";

// Node >= 22.1 can keep the compiled code of the CLI's modules on disk between runs (os.tmpdir(),
// or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): a faster start. It must be on
// before the modules load, hence the dynamic imports below. Node 20 lacks it and starts as before.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const argv = process.argv.slice(2);

// No top-level await: the published `dwm` is this file bundled as CommonJS (scripts/bundle.mjs),
// which starts faster than an ES module entry, and each command's code loads only when it runs.
// `dwm mcp` skips loading the command line's modules: an MCP client waits for the server to start.
const exitCode: Promise<number> =
  argv.length === 1 && argv[0] === "mcp"
    ? import("./commands/mcp.js").then(({ serveFromBin }) => serveFromBin())
    : import("./main.js").then(({ main }) =>
        main(
          argv,
          {
            stdout: (s) => process.stdout.write(s),
            stderr: (s) => process.stderr.write(s),
          },
          { isTTY: Boolean(process.stdout.isTTY), columns: process.stdout.columns },
        ),
      );
exitCode.then((code) => {
  process.exitCode = code;
});
