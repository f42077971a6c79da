// Schema 0.6 fan-out. (1) Expansion alone of N no-op items: expandFanout, the item packet files,
// the fanout.expanded append and the fold that reads it back (ms, µs per item), against writing the
// same files with fs and one sync. (2) The run
// loop on a fan-out of N no-op command items against the plain run loop on N no-op packets
// (the run-loop scenario's dwm side), both at concurrency 8 and measured in the same run:
// the ratio, and the fan-out's own overhead per item ((fan-out - plain) / N). (3) Side by side with
// `xargs -P 8` (issue 30): `dwm run --concurrency 8` of a 0.6 plan over a generated repository of
// real size (one command item per JavaScript file: `node --check` and a line count into check.json,
// then a summary), against `xargs -P 8` running the same script over the same list, in the same run;
// every item's check.json on DWM's integration branch must equal xargs's byte for byte.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  compareChecks,
  generateRepo,
  REPO_SIZES,
  readFloorChecks,
  readRefChecks,
  repoPlan,
  xargsCommand,
} from "../fanout-repo.mjs";
import { benchDir, dwmBin, load, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const FANOUT = path.join(benchDir, "children", "fanout-side.mjs");
const RUNLOOP = path.join(benchDir, "children", "runloop-side.mjs");

const load1 = () => Number(os.loadavg()[0].toFixed(2));
const SIDE_TIMEOUT_MS = 3 * 60 * 60_000;

/** Whether bubblewrap runs here (what `dwm run` sandboxes with by default). */
function hasBubblewrap() {
  const r = spawnSync("bwrap", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * (3) The side by side with `xargs -P 8` on a generated repository; `items` caps the items (all
 * JavaScript files otherwise). Throws when the results differ or either side fails.
 */
async function xargsRow({ quick, items }) {
  const size = quick ? REPO_SIZES.quick : REPO_SIZES.full;
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-fanout-repo-")));
  try {
    const repo = path.join(tmp, "repo");
    const scratch = path.join(tmp, "xargs");
    fs.mkdirSync(repo);
    fs.mkdirSync(scratch);
    const jsFiles = Math.round(size.files * size.jsShare);
    const n = Math.min(jsFiles, items ?? jsFiles);
    const gen = generateRepo(repo, size, { plan: repoPlan(n) });
    // dwm run signs its approvals: the operator's key in a config folder of its own, trusted by
    // the repository (committed, as a user's repository would have it).
    const { trustTestOperator, writeTestOperatorConfig } = await load("test-utils");
    const config = writeTestOperatorConfig(path.join(tmp, "dwm-config"));
    trustTestOperator(repo);
    const git = (...a) =>
      execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...a], {
        cwd: repo,
        encoding: "utf8",
        maxBuffer: 1 << 28,
      }).trim();
    git("add", "-A");
    git("commit", "-q", "-m", "trust the operator");
    const bwrap = hasBubblewrap();

    // The floor first: list, xargs -P 8 over the same script, the same summary.
    const xLoad = [load1()];
    const x0 = performance.now();
    const x = spawnSync("sh", ["-c", xargsCommand(n, scratch)], {
      cwd: repo,
      encoding: "utf8",
      maxBuffer: 1 << 28,
      timeout: SIDE_TIMEOUT_MS,
    });
    const xargsMs = performance.now() - x0;
    xLoad.push(load1());
    if (x.status !== 0) throw new Error(`xargs side exited ${x.status ?? x.signal}: ${x.stderr.slice(-800)}`);

    // DWM as a user runs it: the built CLI, the sandbox unless bubblewrap is missing (then said).
    const argv = [dwmBin, "run", "workflow.plan.json", "--concurrency", String(CONCURRENCY)];
    argv.push("--approve", "write,shell-process", "--json", ...(bwrap ? [] : ["--no-sandbox"]));
    const dLoad = [load1()];
    const d0 = performance.now();
    const d = spawnSync(process.execPath, argv, {
      cwd: repo,
      env: { ...process.env, DWM_CONFIG_DIR: config },
      encoding: "utf8",
      maxBuffer: 1 << 28,
      timeout: SIDE_TIMEOUT_MS,
    });
    const dwmMs = performance.now() - d0;
    dLoad.push(load1());
    let out = null;
    try {
      out = JSON.parse(d.stdout);
    } catch {
      // reported below
    }
    if (d.status !== 0 || out?.status !== "complete")
      throw new Error(
        `dwm run exited ${d.status ?? d.signal}, ${out?.status}: ${out?.detail}; stderr ${d.stderr.slice(-800)}`,
      );

    // The results: every item's check.json on the integration branch against xargs's, and the summaries.
    const ref = `dwm/${out.run_id}/integration`;
    const dwmChecks = readRefChecks(repo, ref);
    const floorChecks = readFloorChecks(path.join(scratch, "out"));
    const diffs = compareChecks(dwmChecks, floorChecks);
    if (floorChecks.size !== n) diffs.push(`xargs wrote ${floorChecks.size} checks for ${n} items`);
    const dwmSummary = git("show", `${ref}:reports/summary.json`);
    const floorSummary = fs.readFileSync(path.join(scratch, "summary.json"), "utf8").trim();
    if (dwmSummary !== floorSummary) diffs.push(`summary: dwm ${dwmSummary} != xargs ${floorSummary}`);
    if (diffs.length > 0)
      throw new Error(`fan-out vs xargs: results differ (${diffs.length}): ${diffs.slice(0, 5).join("; ")}`);
    const branches = git("for-each-ref", "--format=%(refname)", "refs/heads/").split("\n").filter(Boolean);
    return {
      measure: "vs xargs",
      items: n,
      files: gen.files,
      repo_mb: (gen.bytes / 2 ** 20).toFixed(1),
      concurrency: CONCURRENCY,
      sandbox: bwrap ? `bubblewrap (${bwrap})` : "none: bubblewrap missing, --no-sandbox",
      xargs_ms: xargsMs.toFixed(0),
      dwm_ms: dwmMs.toFixed(0),
      ratio: (dwmMs / xargsMs).toFixed(2),
      overhead_per_item_ms: ((dwmMs - xargsMs) / n).toFixed(1),
      overhead_slot_ms_per_item: (((dwmMs - xargsMs) * CONCURRENCY) / n).toFixed(0),
      load_xargs: `${xLoad[0]}→${xLoad[1]}`,
      load_dwm: `${dLoad[0]}→${dLoad[1]}`,
      equal: true,
      branches_left: branches.length,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function run({ quick, large, items, parts }) {
  const want = (p) => parts === undefined || parts.includes(p);
  const expandSizes = !want("expansion") ? [] : quick ? [300] : [1_000, 10_000, ...(large ? [100_000] : [])];
  const runSizes = !want("runloop")
    ? []
    : quick
      ? [[6, 1]]
      : [[200, 3], [1_000, 1], ...(large ? [[10_000, 1]] : [])];
  const rows = [];
  for (const n of expandSizes) {
    const runs = Array.from({ length: quick ? 1 : 3 }, () => nodeScript(FANOUT, ["expand", String(n)]));
    const m = (k) => median(runs.map((r) => r[k]));
    rows.push({
      measure: "expansion",
      items: n,
      ms: m("ms").toFixed(0),
      floor_ms: m("floor_ms").toFixed(0),
      ratio: (m("ms") / m("floor_ms")).toFixed(2),
      per_item_us: ((m("ms") * 1000) / n).toFixed(1),
      expand_ms: m("expand_ms").toFixed(0),
      files_ms: m("files_ms").toFixed(0),
      append_ms: m("append_ms").toFixed(0),
      fold_ms: m("fold_ms").toFixed(0),
      journal_kib: m("journal_kib").toFixed(0),
      peak_rss_mib: m("rssMiB").toFixed(0),
    });
  }
  for (const [n, runs] of runSizes) {
    const plain = [];
    const fan = [];
    for (let r = 0; r < runs; r++) {
      plain.push(nodeScript(RUNLOOP, ["dwm", String(n)]).ms);
      fan.push(nodeScript(FANOUT, ["run", String(n)]).ms);
    }
    const p = median(plain);
    const f = median(fan);
    rows.push({
      measure: "run loop",
      items: n,
      runs,
      plain_ms: p.toFixed(0),
      fanout_ms: f.toFixed(0),
      ratio: (f / p).toFixed(2),
      overhead_per_item_ms: ((f - p) / n).toFixed(2),
    });
  }
  if (want("xargs")) rows.push(await xargsRow({ quick, items }));
  writeResult("fanout", {
    concurrency: CONCURRENCY,
    rows,
    note: "vs xargs = `dwm run workflow.plan.json --concurrency 8 --approve write,shell-process` (the built CLI, compile included, sandboxed unless the row says otherwise) of a 0.6 plan over a generated repository (quick: 25 files, 20 of them JavaScript; full: 2,000 files, 24.5 MiB, 1,200 JavaScript files), one command item per JavaScript file (scripts/check.sh: node --check and wc -l into check.json) and a summary, against `sh -c 'node scripts/list.mjs | xargs -P 8 -n 1 sh scripts/check.sh && node scripts/summary.mjs'` (the same list, script and summary), xargs first, one run each; every check.json on the run's integration branch and the summary equal xargs's byte for byte (else the scenario fails); overhead_per_item_ms = (dwm - xargs) / items (wall), overhead_slot_ms_per_item = that x concurrency (how much longer each item holds one of the 8 slots); load_* = 1-minute load average before→after each side; --items=N caps the items, --parts=expansion,runloop,xargs picks the rows; expansion = expandFanout + item packet files (one syncfs) + fanout.expanded append (fsync) + fold on read-back, nothing runs, floor = the same files written with fs and one sync; run loop = runWorkflow to completion, plain = N no-op shell packets (runloop scenario's dwm side), fan-out = seed + N no-op command items + reduce; quick: 300-item expansion, 6-item runs; full: 1,000 and 10,000; 100,000-item expansion and 10,000-item runs only with --large",
  });
  return rows;
}
