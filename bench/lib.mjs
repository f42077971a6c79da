// Shared helpers for bench scenarios: timing, medians, peak memory, result files.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(benchDir, "..");
export const dwmBin = path.join(repoRoot, "packages/cli/dist/dwm.cjs");
/** Where result files go: $DWM_BENCH_RESULTS (the smoke test points it at a temporary folder), else bench/results. */
export const resultsDir = () => process.env.DWM_BENCH_RESULTS || path.join(benchDir, "results");

/** A built workspace package's entry (`pnpm build` first). */
export const load = (pkg) =>
  import(pathToFileURL(path.join(repoRoot, "packages", pkg, "dist/index.js")).href);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const MAXRSS_PRELOAD = path.join(benchDir, "maxrss-preload.cjs");

/**
 * Run argv `runs` times; returns the wall-clock ms of each run, their median, and the peak RSS
 * (MiB) of one more run. argv[0] must be node: that extra run preloads a hook that reports the
 * process's own maxRSS when it exits, so the timed runs carry no hook.
 */
export function timeProcess(argv, { runs = 9, cwd = repoRoot, env = process.env, input, check } = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { cwd, env, input, encoding: "utf8", maxBuffer: 1 << 28 });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
    check?.(r.stdout);
  }
  const rssFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-rss-")), "rss");
  const r = spawnSync(argv[0], ["--require", MAXRSS_PRELOAD, ...argv.slice(1)], {
    cwd,
    input,
    env: { ...env, DWM_BENCH_MAXRSS_FILE: rssFile },
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  const peakRssMiB = Number(fs.readFileSync(rssFile, "utf8")) / 1024;
  fs.rmSync(path.dirname(rssFile), { recursive: true, force: true });
  return { times, median: median(times), peakRssMiB };
}

/**
 * Run a module-mode script in a fresh Node process (so its peak RSS is its own) and return
 * the JSON its last stdout line holds.
 */
export function child(code, args = [], { env = process.env } = {}) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
    env,
  });
  if (r.status !== 0) throw new Error(`bench child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** Run a Node script file in a fresh process and return the JSON its last stdout line holds. */
export function nodeScript(file, args = [], { env = process.env } = {}) {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: "utf8", maxBuffer: 1 << 28, env });
  if (r.status !== 0)
    throw new Error(`${path.basename(file)} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const PAGE = 4096;

/** RSS (bytes) of `root` and all its descendants now, from /proc (Linux). */
function treeRss(root) {
  const kids = new Map();
  const rss = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (d.charCodeAt(0) > 57) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, "latin1");
    } catch {
      continue; // gone
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(d);
    const ppid = Number(f[1]);
    rss.set(pid, Number(f[21]) * PAGE);
    const l = kids.get(ppid) ?? [];
    l.push(pid);
    kids.set(ppid, l);
  }
  let sum = 0;
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop();
    sum += rss.get(p) ?? 0;
    for (const k of kids.get(p) ?? []) todo.push(k);
  }
  return sum;
}

/**
 * Sample the summed RSS of a process tree every `everyMs` until stopped. The sum counts pages
 * shared between processes once per process, so it is an upper bound on the tree's memory.
 */
export function treeRssSampler(everyMs = 100) {
  const roots = new Set();
  let peak = 0;
  const sample = () => {
    let total = 0;
    for (const r of roots) total += treeRss(r);
    if (total > peak) peak = total;
  };
  const timer = setInterval(sample, everyMs);
  return {
    watch(pid) {
      roots.add(pid);
    },
    unwatch(pid) {
      sample();
      roots.delete(pid);
    },
    /** Stop sampling; the peak in MiB. */
    stop() {
      sample();
      clearInterval(timer);
      return peak / 2 ** 20;
    },
  };
}

/**
 * Spawn a command without blocking the event loop (scenarios serve a model endpoint from this
 * process), feeding `input` on stdin. Returns exit code, stdout, stderr and wall ms; with
 * `sampler`, the process tree is sampled for peak memory while it runs.
 */
export function runAsync(argv, { cwd, env, input = "", sampler = null, timeoutMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    c.stderr.setEncoding("utf8").on("data", (d) => {
      err += d;
    });
    c.on("error", reject);
    if (sampler) sampler.watch(c.pid);
    const timer = timeoutMs > 0 ? setTimeout(() => c.kill("SIGKILL"), timeoutMs) : null;
    // A process that exits without reading its stdin (git) must not fail the bench with EPIPE.
    c.stdin.on("error", () => {});
    c.stdin.end(input);
    c.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (sampler) sampler.unwatch(c.pid);
      resolve({ code, signal, stdout: out, stderr: err, ms: performance.now() - t0 });
    });
  });
}

/**
 * A scenario's [size, runs] ladder after the --sizes / --runs overrides of run.mjs: with sizes,
 * exactly those (runs from the ladder where the size is on it, else 1); runs overrides every count.
 */
export function ladder(defaults, { sizes, runs } = {}) {
  const picked = sizes ? sizes.map((n) => [n, defaults.find(([m]) => m === n)?.[1] ?? 1]) : defaults;
  return picked.map(([n, r]) => [n, runs ?? r]);
}

/** Run `n` jobs `job(i)` with at most `concurrency` at a time. */
export async function pool(n, concurrency, job) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await job(next++);
    }),
  );
}

export function machine() {
  return {
    node: process.versions.node,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "?",
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** The commit the bench ran on, "+dirty" when the tree had changes; null outside a git checkout. */
function commit() {
  try {
    const git = (...a) =>
      execFileSync("git", a, { cwd: benchDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const head = git("rev-parse", "HEAD").trim();
    return git("status", "--porcelain", "--untracked-files=no").trim() === "" ? head : `${head}+dirty`;
  } catch {
    return null;
  }
}

/**
 * Write `<results>/<name>.json`: the machine, the scenario's figures, and the peak RSS of the
 * process that ran the scenario (run.mjs runs each scenario in a process of its own).
 */
export function writeResult(name, result) {
  const dir = resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const doc = {
    scenario: name,
    date: new Date().toISOString(),
    machine: machine(),
    commit: commit(),
    quick: process.argv.includes("--quick"),
    ...result,
    scenario_process_peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}

export function table(rows) {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? "").length)));
  const line = (vals) => vals.map((v, i) => String(v ?? "").padEnd(w[i])).join("  ");
  return [
    line(cols),
    line(w.map((n) => "-".repeat(n))),
    ...rows.map((r) => line(cols.map((c) => r[c]))),
  ].join("\n");
}
