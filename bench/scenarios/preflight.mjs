// The store check every command that changes a run makes first (cli checkBeforeChange → runtime
// checkStore), on a completed run of N no-op packets (noopPlan, run with runWorkflow at concurrency
// 8, so the store holds real evidence: attempts, reviews, handoffs, a journal of every event):
// `dwm verify`'s full check (verifyRun, every byte hashed) against checkStore with no cache yet
// (it hashes everything and writes the cache) and with the cache (an unchanged file is not hashed
// again; the journal prefix verified before is only parsed). Medians of `runs` repetitions.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ladder, load, median, writeResult } from "../lib.mjs";
import { preparedNoopRun } from "../plans.mjs";

function filesUnder(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

export async function run({ quick, ...override }) {
  const { checkStore, verifyRun, verifyCacheFile } = await load("runtime");
  const core = await load("core");
  const sizes = ladder(quick ? [[12, 3]] : [[1_000, 5]], override);
  const rows = [];
  for (const [n, runs] of sizes) {
    const r = await preparedNoopRun(n, { backend: "shell", argv: ["true"] }, "dwm-bench-preflight-");
    const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-preflight-wt-"));
    const processRunner = core.hostProcessRunner();
    try {
      const outcome = await r.start({ processRunner, worktreeRoot: wtRoot });
      if (outcome.status !== "complete")
        throw new Error(`the run ended ${outcome.status}: ${outcome.detail}`);
    } finally {
      await processRunner.close();
      fs.rmSync(wtRoot, { recursive: true, force: true });
    }
    // The cache's racy window: files changed within 2 s of a check are hashed again next time.
    await new Promise((res) => setTimeout(res, 2_100));
    const time = (f) => {
      const t0 = performance.now();
      const report = f();
      const ms = performance.now() - t0;
      if (!report.ok) throw new Error(`the store failed its check: ${JSON.stringify(report.problems[0])}`);
      return { ms, report };
    };
    const full = [];
    const cold = [];
    const warm = [];
    let report;
    for (let i = 0; i < runs; i++) {
      full.push(time(() => verifyRun(r.runDir)).ms);
      fs.rmSync(verifyCacheFile(r.runDir), { force: true });
      cold.push(time(() => checkStore(r.runDir)).ms);
      const w = time(() => checkStore(r.runDir));
      warm.push(w.ms);
      report = w.report;
    }
    const events = fs.readFileSync(path.join(r.runDir, "journal.jsonl"), "utf8").split("\n").length - 1;
    rows.push({
      packets: n,
      runs,
      store_files: filesUnder(r.runDir),
      journal_events: events,
      files_checked: report.files_checked,
      verify_full_ms: median(full).toFixed(0),
      check_cold_ms: median(cold).toFixed(0),
      check_warm_ms: median(warm).toFixed(0),
      speedup: (median(full) / median(warm)).toFixed(1),
    });
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  writeResult("preflight", {
    rows,
    note: "verify_full = verifyRun (dwm verify: every byte); check_cold = checkStore without a cache (hashes everything, writes the cache); check_warm = checkStore with the cache (what a command pays before it changes a run when nothing changed since the last check)",
  });
  return rows;
}
