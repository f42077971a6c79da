// Scale-out through BullMQ on a private redis-server and a bare git remote, two ways:
//
// waiting packets: N packets that each `sleep 1` (so CPU is not what they need), run by 1, 2 and
//   4 `dwm worker` processes of equal concurrency (PER_WORKER each; the run's cap of 8 is above
//   what they can take). Reported: packets per second, and each as a multiple of one worker's.
//   Goal: ≥ 1.8× with 2 workers and ≥ 3.2× with 4. Each attempt still costs CPU (the worktree,
//   the evidence commit and push on the worker, the fetch and checks on the coordinator), so on a
//   machine whose cores are busy the workers queue for CPU and the multiple falls short.
// no-op packets: N packets that run `true`, through runWorkflow with the in-process pool (the
//   floor: the same run loop, no Redis, no remote) and through Redis with 1, 2 and 4 workers of
//   concurrency 8. CPU-bound: every attempt through Redis costs ~17 more git processes than one in
//   the pool, and on one machine more worker processes add no CPU; the ratio to the pool is that cost.
//
// Every side runs in a process of its own (children/queue-side.mjs); worker start-up is not timed.
// The machine's load average before and after each side is in the result.
// --quick (the CI smoke test): one worker, 2 waiting packets and 4 no-op packets (pool and one worker).
import path from "node:path";
import { benchDir, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const SIDE = path.join(benchDir, "children", "queue-side.mjs");
/** Concurrency of each worker in the waiting scenario (the same for 1, 2 and 4 workers). */
const PER_WORKER = 1;
const SLEEP_S = 1;

/** Packets per second of the waiting packets with 1, 2 and 4 workers. */
function waiting(quick) {
  const n = quick ? 2 : 24;
  const workers = quick ? [1] : [1, 2, 4];
  const out = workers.map((w) => ({
    w,
    r: nodeScript(SIDE, ["redis", String(n), String(w), String(PER_WORKER), String(SLEEP_S)]),
  }));
  const one = out[0].r.packets_per_s;
  return out.map(({ w, r }) => ({
    scenario: `sleep ${SLEEP_S} s`,
    side: `redis, ${w} worker${w > 1 ? "s" : ""} × concurrency ${PER_WORKER}`,
    packets: n,
    packets_per_s: r.packets_per_s.toFixed(2),
    ratio: (r.packets_per_s / one).toFixed(2),
    relative_to: "1 worker",
    goal: w === 2 ? "≥ 1.8" : w === 4 ? "≥ 3.2" : "",
    loadavg: r.loadavg.join(" → "),
  }));
}

/** Packets per second of the no-op packets: the in-process pool and Redis with 1, 2 and 4 workers. */
function noop(quick) {
  const n = quick ? 4 : 60;
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
  const out = sides.map(([kind, w]) => ({
    kind,
    w,
    r: nodeScript(SIDE, [kind, String(n), String(w), String(CONCURRENCY), "0"]),
  }));
  const pool = median([out[0].r.packets_per_s]);
  return out.map(({ kind, w, r }) => ({
    scenario: "no-op (CPU-bound)",
    side:
      kind === "pool"
        ? `in-process pool, concurrency ${CONCURRENCY}`
        : `redis, ${w} worker${w > 1 ? "s" : ""} × concurrency ${CONCURRENCY}`,
    packets: n,
    packets_per_s: r.packets_per_s.toFixed(2),
    ratio: (r.packets_per_s / pool).toFixed(2),
    relative_to: "pool",
    goal: "",
    loadavg: r.loadavg.join(" → "),
  }));
}

export async function run({ quick }) {
  const rows = [...waiting(quick), ...noop(quick)];
  writeResult("queue", {
    concurrency_cap: CONCURRENCY,
    per_worker_concurrency: PER_WORKER,
    rows,
    note: `sleep ${SLEEP_S} s: packets that wait, W dwm worker processes of concurrency ${PER_WORKER} each (goal: ≥ 1.8× one worker's packets/s with 2, ≥ 3.2× with 4); no-op: CPU-bound packets (true), the in-process pool against Redis with W workers of concurrency ${CONCURRENCY}. All on one machine: a private redis-server, a bare git remote, the coordinator and the workers share its cores, so the load average (before → after each side) says how much CPU they had. Worker start-up not timed.`,
  });
  return rows;
}
