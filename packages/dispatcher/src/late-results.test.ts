// The run loop records each attempt once: a settlement delivered again (a duplicate from a queue,
// or a late result of an attempt the journal gave up on) is ignored and logged; a lost worker's
// attempt is abandoned as infrastructure, never reviewed.
import path from "node:path";
import { readApprovalPolicy } from "@dwm/gate-resolver";
import { readJournal, verifyRun } from "@dwm/runtime";
import { makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import type { AttemptQueue, AttemptSettlement } from "./queue.js";
import { createWorkerPool } from "./queue.js";
import { runWorkflow } from "./run-workflow.js";
import { exampleRepo, realPorts } from "./test-support/example.js";
import { OPERATOR } from "./test-support/operator.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function optionsOf(ex: ReturnType<typeof exampleRepo>) {
  const policy = readApprovalPolicy(path.join(ex.repo.path, "dwm.policy.json"));
  return {
    repo: ex.repo.path,
    bindings: ex.bindings,
    bindingsDigest: ex.bindingsDigest,
    operator: OPERATOR,
    policy: policy && { policy, name: "dwm.policy.json" },
  };
}

/** The in-process pool, with a hook that rewrites or repeats what next() hands over. */
function tamperedPool(
  ports: ReturnType<typeof realPorts>,
  change: (s: AttemptSettlement, i: number) => AttemptSettlement[],
): NonNullable<ReturnType<typeof realPorts>["queue"]> {
  return (execute, concurrency) => {
    const pool = createWorkerPool({ concurrency, execute, clock: ports.clock });
    const extra: AttemptSettlement[] = [];
    let i = 0;
    const q: AttemptQueue = {
      enqueue: (j) => pool.enqueue(j),
      async next() {
        const e = extra.shift();
        if (e) return e;
        const s = await pool.next();
        if (s === null) return null;
        const [first, ...more] = change(s, i++);
        extra.push(...more);
        return first ?? null;
      },
      get pending() {
        return pool.pending + extra.length;
      },
      leases: () => pool.leases(),
      close: () => pool.close(),
    };
    return q;
  };
}

describe("runWorkflow: settlements recorded once", () => {
  it("a duplicate settlement is ignored and logged; the attempt is recorded once", async () => {
    const ex = exampleRepo("repo-audit");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const ports = realPorts({}, wt.path);
    const notes: string[] = [];
    const out = await runWorkflow(
      ex.compiled.runDir,
      {
        ...ports,
        queue: tamperedPool(ports, (s) => [s, s]),
        onProgress: (p) => {
          if (p.kind === "note") notes.push(p.message);
        },
      },
      { ...optionsOf(ex), maxAttempts: 1 },
    );
    expect(out.status).toBe("budget");
    const recorded = readJournal(ex.compiled.runDir).events.filter((e) => e.type === "attempt.recorded");
    expect(recorded.map((e) => (e.data as { packet_id: string }).packet_id)).toEqual(["inventory"]);
    expect(notes).toContain(
      "ignored a late or duplicate result of inventory attempt 1 (completed, attempt 1)",
    );
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
  }, 240_000);

  it("a lost attempt is abandoned (infrastructure), never reviewed, and runs again as the next attempt", async () => {
    const ex = exampleRepo("repo-audit");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const ports = realPorts({}, wt.path);
    const out = await runWorkflow(
      ex.compiled.runDir,
      {
        ...ports,
        queue: tamperedPool(ports, (s, i) =>
          i === 0 ? [{ job_id: s.job_id, request: s.request, status: "lost", reason: "lock expired" }] : [s],
        ),
      },
      { ...optionsOf(ex), maxAttempts: 2 },
    );
    expect(out.status).toBe("budget");
    const evs = readJournal(ex.compiled.runDir).events;
    const about = evs
      .filter((e) => (e.data as { packet_id?: string }).packet_id === "inventory")
      .map((e) => `${e.type} ${(e.data as { attempt?: number }).attempt}`);
    expect(about.slice(0, 4)).toEqual([
      "packet.dispatched 1",
      "packet.abandoned 1",
      "packet.dispatched 2",
      "attempt.recorded 2",
    ]);
    const abandoned = evs.find((e) => e.type === "packet.abandoned");
    expect((abandoned?.data as { reason?: string } | undefined)?.reason).toBe(
      "infrastructure: the worker was lost: lock expired",
    );
    expect(verifyRun(ex.compiled.runDir).problems).toEqual([]);
  }, 240_000);

  it("whatever executes the jobs, no more than the run's cap are out at once (the cap holds across workers)", async () => {
    const ex = exampleRepo("repo-audit");
    const wt = makeTempDir("dwm-wt-root-");
    cleanups.push(ex.repo.cleanup, wt.cleanup);
    const ports = realPorts({}, wt.path);
    let out = 0;
    let most = 0;
    const counting: NonNullable<ReturnType<typeof realPorts>["queue"]> = (execute, concurrency) => {
      // A queue with room for far more than the cap, as a fleet of workers has.
      const pool = createWorkerPool({ concurrency: concurrency * 4, execute, clock: ports.clock });
      return {
        enqueue: (j) => {
          out++;
          most = Math.max(most, out);
          pool.enqueue(j);
        },
        async next() {
          const s = await pool.next();
          if (s !== null) out--;
          return s;
        },
        get pending() {
          return pool.pending;
        },
        leases: () => pool.leases(),
        close: () => pool.close(),
      };
    };
    const r = await runWorkflow(
      ex.compiled.runDir,
      { ...ports, queue: counting },
      { ...optionsOf(ex), concurrency: 2, maxAttempts: 4 },
    );
    expect(r.status).toBe("budget");
    // inventory alone, then the three scans were ready at once: two went out, the third waited.
    expect(most).toBe(2);
  }, 240_000);
});
