// Schema 0.6 fan-out. (1) Expansion alone of N no-op items: expandFanout, the item packet files,
// the fanout.expanded append and the fold that reads it back (ms, µs per item), against writing the
// same files with fs and one sync. (2) The run
// loop on a fan-out of N no-op command items against the plain run loop on N no-op packets
// (the run-loop scenario's dwm side), both at concurrency 8 and measured in the same run:
// the ratio, and the fan-out's own overhead per item ((fan-out - plain) / N).
import path from "node:path";
import { benchDir, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const FANOUT = path.join(benchDir, "children", "fanout-side.mjs");
const RUNLOOP = path.join(benchDir, "children", "runloop-side.mjs");

export async function run({ quick, large }) {
  const expandSizes = quick ? [300] : [1_000, 10_000, ...(large ? [100_000] : [])];
  const runSizes = quick ? [[6, 1]] : [[200, 3], [1_000, 1], ...(large ? [[10_000, 1]] : [])];
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
  writeResult("fanout", {
    concurrency: CONCURRENCY,
    rows,
    note: "expansion = expandFanout + item packet files (one syncfs) + fanout.expanded append (fsync) + fold on read-back, nothing runs, floor = the same files written with fs and one sync; run loop = runWorkflow to completion, plain = N no-op shell packets (runloop scenario's dwm side), fan-out = seed + N no-op command items + reduce; quick: 300-item expansion, 6-item runs; full: 1,000 and 10,000; 100,000-item expansion and 10,000-item runs only with --large",
  });
  return rows;
}
