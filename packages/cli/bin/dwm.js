#!/usr/bin/env node
// The `dwm` command. A committed file rather than dist/bin.js itself, so that pnpm can link the bin
// of this workspace package before it is built (pnpm warns "Failed to create bin" otherwise).
import "../dist/bin.js";
