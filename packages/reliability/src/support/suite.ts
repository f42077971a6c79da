// Sizes, seed and result files shared by the suites. Quick sizes run in CI (`pnpm test`); full
// sizes with DWM_RELIABILITY_FULL=1 (`pnpm test:reliability --full`). DWM_RELIABILITY_SEED replays
// a run; DWM_RELIABILITY_<SUITE> (e.g. DWM_RELIABILITY_CRASH=20) overrides one suite's size;
// DWM_RELIABILITY_RESULTS writes the result files elsewhere.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "./rng.js";

export const FULL = process.env.DWM_RELIABILITY_FULL === "1";

function seedFromEnv(): number {
  const raw = process.env.DWM_RELIABILITY_SEED;
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new Error(`DWM_RELIABILITY_SEED must be an integer in [0, 2^32): ${raw}`);
    return n;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** One seed per process; each suite derives its generator from it and its own name. */
export const SEED = seedFromEnv();

/** The generator of one suite (independent of which other suites run). */
export function suiteRng(suite: string): Rng {
  return seededRng(suite, SEED);
}

/** The generator `suiteRng(suite)` is when the process seed is `seed` (replays a seed that once failed). */
export function seededRng(suite: string, seed: number): Rng {
  let h = seed;
  for (const ch of suite) h = (Math.imul(h ^ ch.charCodeAt(0), 0x01000193) + 0x9e37) >>> 0;
  return new Rng(h);
}

/** The number of trials of `suite`: quick or full, or DWM_RELIABILITY_<SUITE> when set. */
export function size(suite: string, quick: number, full: number): number {
  const raw = process.env[`DWM_RELIABILITY_${suite.toUpperCase().replace(/-/g, "_")}`];
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`DWM_RELIABILITY_${suite.toUpperCase()}=${raw}`);
    return n;
  }
  return FULL ? full : quick;
}

// DWM_RELIABILITY_RESULTS: another folder for the result files (a quick check beside a full run).
const RESULTS =
  process.env.DWM_RELIABILITY_RESULTS || fileURLToPath(new URL("../../results", import.meta.url));

/** What each suite writes to results/<suite>.json and prints. */
export interface SuiteResult {
  suite: string;
  /** "quick" or "full" (or "custom" when a size was overridden). */
  mode: string;
  seed: number;
  counts: Record<string, number>;
  /** Breakdowns (by error code, kill point, case...). */
  detail?: Record<string, unknown>;
}

/** Print the counts and write results/<suite>.json with the date, machine and duration. */
export function report(result: SuiteResult, startedAt: number): void {
  const cpus = os.cpus();
  const doc = {
    ...result,
    date: new Date().toISOString(),
    duration_ms: Date.now() - startedAt,
    machine: {
      platform: `${os.platform()} ${os.release()}`,
      arch: os.arch(),
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? "unknown",
      memory_gib: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${result.suite}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  const counts = Object.entries(result.counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(`[reliability] ${result.suite} (${result.mode}, seed ${result.seed}): ${counts}`);
}

/** "quick", "full" or "custom" for a suite whose size came from `size()`. */
export function modeOf(suite: string): string {
  if (process.env[`DWM_RELIABILITY_${suite.toUpperCase().replace(/-/g, "_")}`]) return "custom";
  return FULL ? "full" : "quick";
}
