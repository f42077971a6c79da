#!/usr/bin/env node
// pnpm test:reliability [--full] [--seed N] [--no-build] [suite ...]
// Builds what the suites drive (turbo, the packages @dwm/reliability depends on), then runs the
// suites with vitest: quick sizes by default (what CI runs in `pnpm test`), full sizes with --full.
// Suites: crash, tamper, plan-fuzz, escapes, gates, secrets, concurrency, attacks (default: all).
// Each prints its counts and writes results/<suite>.json; a summary table ends the run.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const SUITES = ["crash", "tamper", "plan-fuzz", "escapes", "gates", "secrets", "concurrency", "attacks"];

const args = process.argv.slice(2);
const env = { ...process.env };
const picked = [];
let build = true;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--full") env.DWM_RELIABILITY_FULL = "1";
  else if (a === "--seed") env.DWM_RELIABILITY_SEED = args[++i] ?? "";
  else if (a === "--no-build") build = false;
  else if (a === "--help" || a === "-h") {
    console.log(
      fs
        .readFileSync(fileURLToPath(import.meta.url), "utf8")
        .split("\n")
        .slice(1, 6)
        .join("\n"),
    );
    process.exit(0);
  } else if (SUITES.includes(a)) picked.push(a);
  else {
    console.error(`unknown argument ${a} (suites: ${SUITES.join(", ")})`);
    process.exit(2);
  }
}
const suites = picked.length > 0 ? picked : SUITES;
if (env.DWM_RELIABILITY_SEED === undefined || env.DWM_RELIABILITY_SEED === "")
  env.DWM_RELIABILITY_SEED = String(Math.floor(Math.random() * 2 ** 32));

if (build) {
  const b = spawnSync("pnpm", ["exec", "turbo", "run", "build", "--filter=@dwm/reliability^..."], {
    cwd: root,
    stdio: "inherit",
    env: { ...env, TURBO_TELEMETRY_DISABLED: "1", TURBO_NO_UPDATE_NOTIFIER: "1" },
  });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const mode = env.DWM_RELIABILITY_FULL === "1" ? "full" : "quick";
console.log(`\nreliability: ${suites.join(", ")} (${mode} sizes, seed ${env.DWM_RELIABILITY_SEED})\n`);
const started = Date.now();
const files = suites.map((s) => `src/${s}.test.ts`);
const t = spawnSync("pnpm", ["exec", "vitest", "run", ...files], { cwd: here, stdio: "inherit", env });

console.log(`\nreliability summary (${mode}, seed ${env.DWM_RELIABILITY_SEED}):`);
for (const s of suites) {
  const f = path.join(here, "results", `${s}.json`);
  if (!fs.existsSync(f) || fs.statSync(f).mtimeMs < started) {
    console.log(`  ${s.padEnd(12)} no result written`);
    continue;
  }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  const counts = Object.entries(r.counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(`  ${s.padEnd(12)} ${counts}`);
}
process.exit(t.status ?? 1);
