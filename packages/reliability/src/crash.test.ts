// Crash injection: the built `dwm run` of examples/repo-audit is SIGKILLed at random points (after a
// random number of journal events, plus a random delay), once or twice per run, then resumed until
// the run completes. Every run must complete; no packet completed before a kill may start again;
// every journal must pass `dwm verify`.
// Each `pnpm test:reliability` draws a fresh seed (printed; `--seed N` replays it) and also replays
// REPLAY_SEEDS, seeds that once failed. A last case kills a runner, plants the stale git lock a killed
// runner can leave on the run's integration branch, and resumes: dwm run must recover it (journaled).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import {
  baseEnv,
  dwmChild,
  dwmInProcess,
  finished,
  journal,
  requireBuiltCli,
  runDir,
  runIds,
  startDwm,
} from "./support/dwm.js";
import { exampleRepo, starts } from "./support/repos.js";
import type { Rng } from "./support/rng.js";
import { modeOf, report, SEED, seededRng, size, suiteRng } from "./support/suite.js";

/**
 * Seeds that once failed, replayed on every run (quick sizes), the oldest first:
 * 3020904704 — a killed runner's stale ref lock on the integration branch (issue 22).
 */
export const REPLAY_SEEDS = [3020904704];
/** Runs replayed per seed: the quick size, where each of these failed. */
const REPLAY_RUNS = 2;

const RUNS = size("crash", 2, 200);
// One uninterrupted repo-audit run (to the gate, approval, to completion) journals 45 events; kill
// points are drawn over 1..44, so every run is killed at least once, some after the approval.
const EVENT_SPAN = 44;
const PACKETS = ["inventory", "scan_src", "scan_docs", "scan_lib", "report", "human_gate"];

interface RunRecord {
  run: number;
  /** The process seed this run's generator came from (SEED, or a replayed one). */
  seed: number;
  kills: { after_events: number; delay_ms: number; at_event: string; completed: string[] }[];
  invocations: number;
  completed: boolean;
  reran: string[];
  verify_ok: boolean;
  verify_problems?: string;
  torn_repaired: number;
  takeovers: number;
  events: number;
}

const records: RunRecord[] = [];
const startedAt = Date.now();

async function oneRun(n: number, seed = SEED, base: Rng = suiteRng("crash")): Promise<RunRecord> {
  const rng = base.fork(n);
  const repo = exampleRepo("repo-audit");
  const tmp = makeTempDir("dwm-rel-crash-");
  const log = path.join(tmp.path, "starts.log");
  const env = baseEnv({
    DWM_RELIABILITY_LOG: log,
    DWM_EXAMPLE_SLOW_MS: String(rng.range(0, 300)),
    TMPDIR: tmp.path,
  });
  const concurrency = String(rng.range(1, 3));
  const kills = Array.from({ length: rng.chance(0.3) ? 2 : 1 }, () => ({
    after: rng.range(1, EVENT_SPAN),
    delay: rng.range(0, 40),
  })).sort((a, b) => a.after - b.after);
  const rec: RunRecord = {
    run: n,
    seed,
    kills: [],
    invocations: 0,
    completed: false,
    reran: [],
    verify_ok: false,
    torn_repaired: 0,
    takeovers: 0,
    events: 0,
  };
  // Start-log lines of packets that were completed when a kill happened: must never grow.
  const frozen = new Map<string, number>();
  try {
    for (let guard = 0; guard < 12 && !rec.completed; guard++) {
      const [id] = runIds(repo.path);
      // --no-sandbox: the start log the workers append to lies outside their checkout.
      const args =
        id === undefined ? ["run", "workflow.plan.json", "--no-sandbox"] : ["run", id, "--no-sandbox"];
      const child = startDwm(repo.path, [...args, "--concurrency", concurrency], env);
      const out = finished(child);
      rec.invocations++;
      const kill = kills[0];
      if (kill) {
        // Poll the journal until enough events exist (or the runner exits first).
        for (;;) {
          if (child.exitCode !== null) break;
          const [rid] = runIds(repo.path);
          const evs = rid === undefined ? [] : journal(runDir(repo.path, rid));
          if (evs.length >= kill.after) {
            await new Promise((r) => setTimeout(r, kill.delay));
            if (child.exitCode === null && child.kill("SIGKILL")) {
              kills.shift();
              await out;
              const after = rid === undefined ? [] : journal(runDir(repo.path, rid));
              const completed = after
                .filter((e) => e.type === "packet.completed")
                .map((e) => e.data.packet_id as string);
              for (const p of completed) frozen.set(p, starts(log).filter((s) => s === p).length);
              rec.kills.push({
                after_events: kill.after,
                delay_ms: kill.delay,
                at_event: after.at(-1)?.type ?? "(no journal yet)",
                completed,
              });
            }
            break;
          }
          await new Promise((r) => setTimeout(r, 3));
        }
      }
      const o = await out;
      if (o.signal === "SIGKILL") continue;
      if (o.code === 4) {
        const [rid] = runIds(repo.path);
        const a = await dwmInProcess(repo.path, [
          "approve",
          rid as string,
          "human-gate",
          "--reason",
          "crash suite",
        ]);
        if (a.code !== 0) throw new Error(`dwm approve exited ${a.code}: ${a.stderr}`);
        continue;
      }
      if (o.code === 0) {
        rec.completed = true;
        break;
      }
      throw new Error(`dwm ${args.join(" ")} exited ${o.code} (${o.signal}): ${o.stderr.slice(0, 2000)}`);
    }
    const [rid] = runIds(repo.path);
    const dir = runDir(repo.path, rid as string);
    const evs = journal(dir);
    // Completed once run.completed is journaled (a kill after it leaves a lease event behind it).
    rec.completed = rec.completed && evs.some((e) => e.type === "run.completed");
    const ran = starts(log);
    for (const [p, count] of frozen) if (ran.filter((s) => s === p).length !== count) rec.reran.push(p);
    // The journal too: no packet dispatched again after it completed (nothing here reopens packets).
    const done = new Set<string>();
    for (const e of evs) {
      if (e.type === "packet.completed") done.add(e.data.packet_id as string);
      if (e.type === "packet.dispatched" && done.has(e.data.packet_id as string))
        rec.reran.push(`${e.data.packet_id} (journal)`);
    }
    const v = await dwmChild(repo.path, ["verify", rid as string, "--json"], env);
    rec.verify_ok = v.code === 0;
    if (!rec.verify_ok) rec.verify_problems = v.stdout.slice(0, 4000);
    rec.torn_repaired = evs.filter((e) => e.type === "journal.truncated").length;
    rec.takeovers = evs.filter((e) => e.type === "lease.taken-over").length;
    rec.events = evs.length;
    expect(new Set(evs.filter((e) => e.type === "packet.completed").map((e) => e.data.packet_id))).toEqual(
      new Set(PACKETS),
    );
  } finally {
    repo.cleanup();
    tmp.cleanup();
  }
  return rec;
}

requireBuiltCli();

describe(`crash injection (${RUNS} runs, seed ${SEED})`, () => {
  afterAll(() => writeResult());

  function writeResult(): void {
    const sum = (f: (r: RunRecord) => number) => records.reduce((n, r) => n + f(r), 0);
    const atEvent: Record<string, number> = {};
    for (const r of records) for (const k of r.kills) atEvent[k.at_event] = (atEvent[k.at_event] ?? 0) + 1;
    report(
      {
        suite: "crash",
        mode: modeOf("crash"),
        seed: SEED,
        counts: {
          runs: records.length,
          replayed_runs: records.filter((r) => r.seed !== SEED).length,
          stale_ref_locks_recovered: refLockCases.filter((c) => c.recovered).length,
          kills: sum((r) => r.kills.length),
          resumed_to_completion: sum((r) => (r.completed ? 1 : 0)),
          completed_packets_rerun: sum((r) => r.reran.length),
          journals_failing_verify: sum((r) => (r.verify_ok ? 0 : 1)),
          torn_lines_repaired: sum((r) => r.torn_repaired),
          lease_takeovers: sum((r) => r.takeovers),
          dwm_run_invocations: sum((r) => r.invocations),
        },
        detail: {
          last_event_at_kill: atEvent,
          replay_seeds: REPLAY_SEEDS,
          runs: records,
          ref_locks: refLockCases,
        },
      },
      startedAt,
    );
  }

  it(`every killed run resumes to completion, re-runs no completed packet, and verifies`, async () => {
    for (let n = 0; n < RUNS; n++) {
      const rec = await oneRun(n);
      records.push(rec);
      // Written after every run, so a long full-size run that is stopped still has its counts so far.
      writeResult();
      expect(rec, `run ${n} (seed ${SEED})`).toMatchObject({ completed: true, reran: [], verify_ok: true });
    }
    expect(records.reduce((k, r) => k + r.kills.length, 0)).toBeGreaterThanOrEqual(1);
  });

  it.each(REPLAY_SEEDS)("replays seed %i, which once failed", async (seed) => {
    for (let n = 0; n < REPLAY_RUNS; n++) {
      const rec = await oneRun(n, seed, seededRng("crash", seed));
      records.push(rec);
      writeResult();
      expect(rec, `replayed run ${n} (seed ${seed})`).toMatchObject({
        completed: true,
        reran: [],
        verify_ok: true,
      });
    }
  });

  it("a killed runner's stale git lock on the integration branch is recovered (and journaled) by the next run", async () => {
    const c = await staleRefLockCase();
    refLockCases.push(c);
    writeResult();
    expect(c).toMatchObject({
      planted: true,
      status_exit: 0,
      resumed_exit: 0,
      recovered: true,
      verify_exit: 0,
    });
  });
});

interface RefLockCase {
  planted: boolean;
  status_exit: number | null;
  resumed_exit: number | null;
  recovered: boolean;
  verify_exit: number | null;
}
const refLockCases: RefLockCase[] = [];

/** Run to the gate, SIGKILL a resumed runner, plant `<integration>.lock` as git leaves it, resume. */
async function staleRefLockCase(): Promise<RefLockCase> {
  const repo = exampleRepo("repo-audit");
  const tmp = makeTempDir("dwm-rel-reflock-");
  const env = baseEnv({ TMPDIR: tmp.path, DWM_RELIABILITY_LOG: path.join(tmp.path, "starts.log") });
  try {
    const first = await dwmChild(repo.path, ["run", "workflow.plan.json"], env);
    if (first.code !== 4) throw new Error(`dwm run exited ${first.code}: ${first.stderr.slice(0, 1000)}`);
    const [rid] = runIds(repo.path);
    const id = rid as string;
    // A runner SIGKILLed while git held the branch's lock: its lease (a dead pid) and the lock stay.
    const dead = startDwm(repo.path, ["--version"], env);
    await finished(dead);
    const lease = {
      pid: dead.pid,
      host: os.hostname(),
      token: "killed",
      acquired_at: new Date().toISOString(),
      expires_at: new Date(Date.now() + 30_000).toISOString(),
      purpose: "run",
    };
    fs.writeFileSync(path.join(runDir(repo.path, id), "lock"), `${JSON.stringify(lease)}\n`);
    const refs = path.join(repo.path, ".git", "refs", "heads", "dwm", id);
    const planted = fs.existsSync(path.join(refs, "integration"));
    if (planted) fs.writeFileSync(path.join(refs, "integration.lock"), `${"0".repeat(40)}\n`);
    const status = await dwmChild(repo.path, ["status", id], env);
    const a = await dwmChild(repo.path, ["approve", id, "human-gate", "--reason", "crash suite"], env);
    if (a.code !== 0) throw new Error(`dwm approve exited ${a.code}: ${a.stderr.slice(0, 1000)}`);
    const resumed = await dwmChild(repo.path, ["run", id], env);
    const recovered =
      !fs.existsSync(path.join(refs, "integration.lock")) &&
      journal(runDir(repo.path, id)).some(
        (e) =>
          e.type === "store.recovered" &&
          (e.data.leftovers as { kind: string }[]).some((l) => l.kind === "ref-lock"),
      );
    const v = await dwmChild(repo.path, ["verify", id], env);
    return { planted, status_exit: status.code, resumed_exit: resumed.code, recovered, verify_exit: v.code };
  } finally {
    repo.cleanup();
    tmp.cleanup();
  }
}
