#!/usr/bin/env node
// After tsc: copy the repository's skill/ (SKILL.md and references/) into dist/skill, so the
// published @dwm/cli serves it as MCP resources (dwm://skill/...) without a checkout.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const from = path.resolve(pkgDir, "..", "..", "skill");
const to = path.join(pkgDir, "dist", "skill");
fs.rmSync(to, { recursive: true, force: true });
fs.cpSync(from, to, { recursive: true, filter: (f) => fs.statSync(f).isDirectory() || f.endsWith(".md") });
