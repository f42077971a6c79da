// The run loop (dwm run's runWorkflow) on N independent no-op shell packets at concurrency 8,
// against a floor measured in the same run: a bare Node pool of 8 doing, for each of the same N
// jobs, the git work every attempt needs (worktree add, spawn the no-op in it, status, diff,
// worktree remove; worktree admin through one queue, as ../shared/notes/git-worktrees.md says).
// Reported: median wall time of each, the ratio, DWM's own overhead per packet ((dwm - floor) / N),
// and the peak RSS of each side's process (git children not included). Sides alternate, each in a
// fresh Node process (children/runloop-side.mjs).
import path from "node:path";
import { benchDir, ladder, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const SIDE = path.join(benchDir, "children", "runloop-side.mjs");
const side = (which, n) => nodeScript(SIDE, [which, String(n)]);

export async function run({ quick, large, ...override }) {
  // [packets, runs]: fewer runs where one run takes minutes.
  const sizes = ladder(
    quick ? [[12, 1]] : [[1_000, 3], [10_000, 1], ...(large ? [[100_000, 1]] : [])],
    override,
  );
  const rows = [];
  for (const [n, runs] of sizes) {
    const floors = [];
    const dwms = [];
    for (let r = 0; r < runs; r++) {
      floors.push(side("floor", n));
      dwms.push(side("dwm", n));
    }
    const f = median(floors.map((x) => x.ms));
    const d = median(dwms.map((x) => x.ms));
    rows.push({
      packets: n,
      runs,
      floor_ms: f.toFixed(0),
      dwm_ms: d.toFixed(0),
      ratio: (d / f).toFixed(2),
      overhead_per_packet_ms: ((d - f) / n).toFixed(2),
      floor_peak_rss_mib: median(floors.map((x) => x.rssMiB)).toFixed(0),
      dwm_peak_rss_mib: median(dwms.map((x) => x.rssMiB)).toFixed(0),
      // The process host dwm run spawns through (core.hostProcessRunner), a process of its own.
      dwm_host_peak_rss_mib:
        dwms[0]?.hostRssMiB == null ? null : median(dwms.map((x) => x.hostRssMiB ?? 0)).toFixed(0),
    });
  }
  writeResult("runloop", {
    concurrency: CONCURRENCY,
    rows,
    note: "floor = bare Node pool doing the same worktree add/no-op/status/diff/remove per job; dwm = compile excluded, runWorkflow to completion (journal fsyncs, evidence, review, integration); peak RSS = each side's own Node process (git children excluded; dwm's process host, which spawns for it, in dwm_host_peak_rss_mib); 100,000 packets only with --large",
  });
  return rows;
}
