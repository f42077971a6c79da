#!/usr/bin/env node
// The `dwm` command. A committed file rather than dist/dwm.cjs itself, so that pnpm can link the
// bin of this workspace package before it is built (pnpm warns "Failed to create bin" otherwise).
// CommonJS, as the bundle it loads: an ES module entry costs Node more to start.
require("../dist/dwm.cjs");
