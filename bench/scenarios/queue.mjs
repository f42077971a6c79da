// Scale-out through BullMQ on a private redis-server and a bare git remote, two ways:
//
// waiting packets: 33 packets (the seed packet, then 32 that depend on it) that each `sleep S`,
//   run by 1, 2 and 4 `dwm worker` processes of equal concurrency (PER_WORKER each; the run's cap
//   of 8 is above what they can take). Reported: packets per second, and each as a multiple of
//   one worker's. Goal: ≥ 1.8× with 2 workers and ≥ 3.2× with 4, judged at S = 10 s; S = 1 s is
//   reported too, as what it is. Why 10 s and 33 packets, on a 2-core machine: each attempt costs
//   about 0.7 s of wall time besides its wait at a load average of 4, 1–2.5 s at 15–20 (some 27
//   git processes on the worker — worktree, checks, evidence commit and push — and 5 on the
//   coordinator, one after another, each a process start on a busy machine), and that cost grows
//   when more workers share the two cores; with 1 s waits it is close to half of every attempt,
//   and with 5 s waits 4 workers gave 3.40× in one run and 3.12× in another (load 15–18). The seed packet runs alone before the others (about 2.5–3.5 s
//   with the first fetch of the base into a worker's clone), and 32 packets after it divide evenly
//   among 1, 2 and 4 workers (23 gave 2 and 4 workers 12 and 6 rounds, not 11.5 and 5.75). With
//   10 s waits the wait dominates an attempt, and the fixed part is a small share of the timed run.
// no-op packets: N packets that run `true`, through runWorkflow with the in-process pool (the
//   floor: the same run loop, no Redis, no remote) and through Redis with 1, 2 and 4 workers of
//   concurrency 8. CPU-bound: every attempt through Redis costs ~17 more git processes than one in
//   the pool, and on one machine more worker processes add no CPU; the ratio to the pool is that cost.
//
// Every side runs in a process of its own (children/queue-side.mjs); worker start-up is not timed.
// The machine's load average before and after each side is in the result.
// --quick (the CI smoke test): one worker, 2 packets of `sleep 1`, and 4 no-op packets (pool and one worker).
import path from "node:path";
import { benchDir, median, nodeScript, writeResult } from "../lib.mjs";
import { CONCURRENCY } from "../plans.mjs";

const SIDE = path.join(benchDir, "children", "queue-side.mjs");
/** Concurrency of each worker in the waiting scenario (the same for 1, 2 and 4 workers). */
const PER_WORKER = 1;
/** The wait of each packet (s): the goal is judged at the first, the others are reported as they are. */
const WAITS_S = [10, 1];
/** The seed packet and 32 after it: 32 divides evenly among 1, 2 and 4 workers. */
const WAITING_PACKETS = 33;
const GOAL = { 2: "≥ 1.8", 4: "≥ 3.2" };

/** Packets per second of the waiting packets with 1, 2 and 4 workers, for each wait. */
function waiting(quick) {
  const n = quick ? 2 : WAITING_PACKETS;
  const workers = quick ? [1] : [1, 2, 4];
  return (quick ? [1] : WAITS_S).flatMap((sleepS, i) => {
    const out = workers.map((w) => ({
      w,
      r: nodeScript(SIDE, ["redis", String(n), String(w), String(PER_WORKER), String(sleepS)]),
    }));
    const one = out[0].r.packets_per_s;
    return out.map(({ w, r }) => ({
      scenario: `sleep ${sleepS} s`,
      side: `redis, ${w} worker${w > 1 ? "s" : ""} × concurrency ${PER_WORKER}`,
      packets: n,
      packets_per_s: r.packets_per_s.toFixed(2),
      ratio: (r.packets_per_s / one).toFixed(2),
      relative_to: "1 worker",
      goal: i === 0 ? (GOAL[w] ?? "") : "",
      loadavg: r.loadavg.join(" → "),
    }));
  });
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
    note: `sleep S s: ${quick ? 2 : WAITING_PACKETS} packets that wait (a seed packet, then the rest after it), W dwm worker processes of concurrency ${PER_WORKER} each (goal: ≥ 1.8× one worker's packets/s with 2, ≥ 3.2× with 4, judged at S = ${WAITS_S[0]}; S = ${WAITS_S[1]} reported as it is: on this 2-core machine an attempt costs about 0.7 s besides its wait at a load average of 4 and 1–2.5 s at 15–20, some 32 git processes on worker and coordinator one after another, more when workers share the cores, so with 1 s waits that cost and the seed packet that runs alone weigh as much as the wait); no-op: CPU-bound packets (true), the in-process pool against Redis with W workers of concurrency ${CONCURRENCY}. All on one machine: a private redis-server, a bare git remote, the coordinator and the workers share its cores, so the load average (before → after each side) says how much CPU they had. Worker start-up not timed.`,
  });
  return rows;
}
