// Shared helpers for bench scenarios: timing, medians, peak memory, result files.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(benchDir, "..");
export const dwmBin = path.join(repoRoot, "packages/cli/dist/bin.js");

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run argv `runs` times; returns the wall-clock ms of each run and their median. */
export function timeProcess(argv, { runs = 9, cwd = repoRoot, env = process.env } = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: "utf8" });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  return { times, median: median(times) };
}

export function machine() {
  return {
    node: process.versions.node,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "?",
    memGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

export function writeResult(name, result) {
  const dir = path.join(benchDir, "results");
  fs.mkdirSync(dir, { recursive: true });
  const doc = { scenario: name, machine: machine(), ...result };
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}

export function table(rows) {
  const cols = Object.keys(rows[0] ?? {});
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals) => vals.map((v, i) => String(v).padEnd(w[i])).join("  ");
  return [
    line(cols),
    line(w.map((n) => "-".repeat(n))),
    ...rows.map((r) => line(cols.map((c) => r[c]))),
  ].join("\n");
}
