#!/usr/bin/env node
// Part of `pnpm version-packages` (after `changeset version`): packages that record their own
// version in artifacts keep it as a constant in src/version.ts (COMPILER_VERSION in run.json,
// EVALUATOR_VERSION in scorecards, REVIEWER_VERSION in reviews); this sets each to the
// version changesets just wrote into the package's package.json.
// Usage: node scripts/sync-versions.mjs [--check]   (--check: only report, exit 1 when stale)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { staleVersionConstants } from "./ci-lib.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const stale = staleVersionConstants(repo, { fix: !check });
for (const s of stale) {
  console.log(`${check ? "stale" : "updated"} ${s.file}: ${s.name} ${s.found} → ${s.version}`);
}
if (check && stale.length) process.exit(1);
