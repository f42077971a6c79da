#!/usr/bin/env node
import { main } from "./main.js";

process.exitCode = await main(
  process.argv.slice(2),
  {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  },
  { isTTY: Boolean(process.stdout.isTTY), columns: process.stdout.columns },
);
