// Two runners on one run: each trial compiles a new run of examples/repo-audit and starts two built
// `dwm run <run>` processes on it, the second after a random 0-250 ms (so sometimes both race for
// the lock from the start, sometimes the first already holds it). Workers wait on a hold file, so
// the winner stays inside the run until the trial ends it; nothing depends on timing. Exactly one
// runner may run the run: the other must be refused (exit 1, ERR_RUN_LOCKED) without writing to the
// journal. The winner is then interrupted (SIGTERM) and the store must pass `dwm verify`.
// A last case is the instant between a contender's create and write of the lock file: an empty
// lock (`: > lock; dwm run <id>`) is held, never taken over, until it is older than a lease.
import fs from "node:fs";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import {
  baseEnv,
  dwmInProcess,
  finished,
  journal,
  type Outcome,
  requireBuiltCli,
  runDir,
  startDwm,
} from "./support/dwm.js";
import { exampleRepo, starts } from "./support/repos.js";
import { modeOf, report, SEED, size, suiteRng } from "./support/suite.js";

const TRIALS = size("concurrency", 3, 100);

interface Trial {
  trial: number;
  offset_ms: number;
  refused: number;
  refused_with_code: number;
  both_dispatched: boolean;
  writers: number;
  verify_exit: number | null;
  winner: "first" | "second" | "none";
}

const trials: Trial[] = [];
const emptyLock: { held: boolean; taken_over_after_lease: boolean }[] = [];
const startedAt = Date.now();

requireBuiltCli();

describe(`two runners on one run (${TRIALS} trials, seed ${SEED})`, () => {
  afterAll(() => {
    report(
      {
        suite: "concurrency",
        mode: modeOf("concurrency"),
        seed: SEED,
        counts: {
          trials: trials.length,
          second_runner_refused: trials.filter((t) => t.refused === 1 && t.refused_with_code === 1).length,
          both_ran: trials.filter((t) => t.both_dispatched || t.refused === 0).length,
          journals_with_two_writers: trials.filter((t) => t.writers !== 1).length,
          verify_failures: trials.filter((t) => t.verify_exit !== 0).length,
          won_by_first_started: trials.filter((t) => t.winner === "first").length,
          won_by_second_started: trials.filter((t) => t.winner === "second").length,
          empty_lock_held: emptyLock.filter((e) => e.held).length,
          empty_lock_taken_over_after_lease: emptyLock.filter((e) => e.taken_over_after_lease).length,
        },
        detail: { trials, empty_lock: emptyLock },
      },
      startedAt,
    );
  });

  it("the second runner is always refused and the journal keeps one writer", async () => {
    const rng = suiteRng("concurrency");
    const repo = exampleRepo("repo-audit");
    const tmp = makeTempDir("dwm-rel-conc-");
    try {
      for (let n = 0; n < TRIALS; n++) {
        const log = path.join(tmp.path, `starts-${n}.log`);
        const hold = path.join(tmp.path, `hold-${n}`);
        const env = baseEnv({ TMPDIR: tmp.path, DWM_RELIABILITY_LOG: log, DWM_RELIABILITY_HOLD: hold });
        // A new run per trial (the same plan compiles to the same run id unless named).
        const runId = `repo-audit-trial-${n}`;
        const c = await dwmInProcess(repo.path, ["compile", "workflow.plan.json", "--run", runId]);
        expect(c.code, c.stderr).toBe(0);
        const offset = rng.int(251);
        // --no-sandbox: the workers read a hold file and append to a start log outside their checkout.
        const a = startDwm(repo.path, ["run", runId, "--no-sandbox"], env);
        const aOut = finished(a);
        if (offset > 0) await new Promise((r) => setTimeout(r, offset));
        const b = startDwm(repo.path, ["run", runId, "--no-sandbox"], env);
        const bOut = finished(b);
        // Wait until one runner has exited, or both have started a worker (which must not happen).
        let bothDispatched = false;
        for (;;) {
          if (a.exitCode !== null || b.exitCode !== null) break;
          if (starts(log).length >= 2) {
            bothDispatched = true;
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        const loserIsA = a.exitCode !== null;
        const winner = loserIsA ? b : a;
        const loser: Outcome = await (loserIsA ? aOut : bOut);
        // The winner is inside the run (its workers hold); interrupt it, then let any worker go.
        if (winner.exitCode === null) winner.kill("SIGTERM");
        await (loserIsA ? bOut : aOut);
        fs.writeFileSync(hold, "");
        const evs = journal(runDir(repo.path, runId));
        const v = await dwmInProcess(repo.path, ["verify", runId]);
        const refused = [loser].filter((o) => o.code === 1).length;
        const t: Trial = {
          trial: n,
          offset_ms: offset,
          refused: bothDispatched ? 0 : refused,
          refused_with_code: loser.stderr.includes("ERR_RUN_LOCKED") ? 1 : 0,
          both_dispatched: bothDispatched,
          writers: evs.filter((e) => e.type === "lease.taken" || e.type === "lease.taken-over").length,
          verify_exit: v.code,
          winner: bothDispatched ? "none" : loserIsA ? "second" : "first",
        };
        trials.push(t);
        expect(t, `trial ${n} (seed ${SEED}): ${loser.stderr.slice(0, 300)}`).toMatchObject({
          refused: 1,
          refused_with_code: 1,
          both_dispatched: false,
          writers: 1,
          verify_exit: 0,
        });
      }
    } finally {
      repo.cleanup();
      tmp.cleanup();
    }
  });

  it("an empty lock file is being written: dwm run does not take over until it is older than the lease", async () => {
    const repo = exampleRepo("repo-audit");
    const tmp = makeTempDir("dwm-rel-conc-empty-");
    try {
      const env = baseEnv({ TMPDIR: tmp.path });
      const runId = "repo-audit-empty-lock";
      expect((await dwmInProcess(repo.path, ["compile", "workflow.plan.json", "--run", runId])).code).toBe(0);
      const lock = path.join(runDir(repo.path, runId), "lock");
      fs.writeFileSync(lock, "");
      const r = await finished(startDwm(repo.path, ["run", runId], env));
      const held =
        r.code === 1 &&
        r.stderr.includes("ERR_RUN_LOCKED") &&
        fs.readFileSync(lock, "utf8") === "" &&
        journal(runDir(repo.path, runId)).length === 0;
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(lock, old, old);
      const later = await finished(startDwm(repo.path, ["run", runId], env));
      const over = journal(runDir(repo.path, runId)).find((e) => e.type === "lease.taken-over");
      const taken_over_after_lease =
        later.code === 4 && (over?.data.previous as { pid?: number })?.pid === -1;
      emptyLock.push({ held, taken_over_after_lease });
      expect({ held, taken_over_after_lease }, r.stderr + later.stderr).toEqual({
        held: true,
        taken_over_after_lease: true,
      });
    } finally {
      repo.cleanup();
      tmp.cleanup();
    }
  });
});
