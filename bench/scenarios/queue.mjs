// Scale-out throughput: N no-op shell packets through runWorkflow at concurrency 8, with the
// in-process pool (the floor: the same run loop, no Redis, no remote) and as a coordinator with
// BullMQ on a private redis-server and 1, 2 and 4 `dwm worker` processes, all in the same run.
// Every attempt through Redis also pushes its base and evidence through a bare git remote and is
// fetched and digest-checked by the coordinator, so the figure is the whole scale-out path.
// Reported: packets per second of each, and each queue figure as a ratio of the pool's.
// --quick (the CI smoke test) runs the pool and one worker process only, on 4 packets.
import path from "node:path";
import { benchDir, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const SIDE = path.join(benchDir, "children", "queue-side.mjs");

export async function run({ quick }) {
  // A no-op packet through Redis costs ~17 more git processes than one in the pool (base push,
  // worker fetch, evidence commit and push, coordinator fetch and checks): sizes stay modest.
  const n = quick ? 4 : 60;
  const runs = 1;
  const sides = quick
    ? [
        ["pool", 0],
        ["redis", 1],
      ]
    : [
        ["pool", 0],
        ["redis", 1],
        ["redis", 2],
        ["redis", 4],
      ];
  const results = new Map(sides.map((s) => [s.join(":"), []]));
  for (let r = 0; r < runs; r++) {
    for (const [kind, w] of sides)
      results.get(`${kind}:${w}`).push(nodeScript(SIDE, [kind, String(n), String(w)]));
  }
  const pool = median(results.get("pool:0").map((x) => x.packets_per_s));
  const rows = sides.map(([kind, w]) => {
    const pps = median(results.get(`${kind}:${w}`).map((x) => x.packets_per_s));
    return {
      side: kind === "pool" ? "in-process pool" : `redis, ${w} worker process${w > 1 ? "es" : ""}`,
      packets: n,
      runs,
      packets_per_s: pps.toFixed(2),
      ratio_to_pool: (pps / pool).toFixed(2),
    };
  });
  writeResult("queue", {
    concurrency: CONCURRENCY,
    rows,
    note: "no-op shell packets; pool = runWorkflow with the in-process pool; redis = the same run as coordinator with BullMQ on a private redis-server, a bare git remote and W dwm worker processes (concurrency 8 each, the run's cap of 8 across them); worker start-up not timed",
  });
  return rows;
}
