// The built CLI (packages/cli/dist/dwm.cjs; turbo builds before tests) killed with SIGKILL at
// several points of a run, then run again: completed packets never run twice, verify passes.
import fs from "node:fs";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import {
  auditRepo,
  dwmInProcess as dwm,
  type JournalEvent as Ev,
  journalEvents as events,
  exited,
  requireBuiltCli,
  startDwm as start,
  waitForEvents as waitFor,
} from "../test-support/built-cli.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const KILL_POINTS: [string, (evs: Ev[]) => boolean][] = [
  [
    "a scan was dispatched",
    (evs) => evs.some((e) => e.type === "packet.dispatched" && e.data.packet_id?.startsWith("scan_")),
  ],
  [
    "a scan completed while others ran",
    (evs) => evs.some((e) => e.type === "packet.completed" && e.data.packet_id?.startsWith("scan_")),
  ],
  [
    "the report was dispatched",
    (evs) => evs.some((e) => e.type === "packet.dispatched" && e.data.packet_id === "report"),
  ],
];

requireBuiltCli();

// These runs count real executions through a side-effect log the workers append to outside
// their checkout, which the OS sandbox forbids: they run with --no-sandbox (the attacks suite
// covers the sandboxed path).
describe("dwm run survives SIGKILL (built CLI)", () => {
  it.each(KILL_POINTS)(
    "killed when %s: running again completes, no completed packet runs twice",
    async (_, when) => {
      const repo = auditRepo(cleanups);
      const tmp = makeTempDir("dwm-crash-");
      cleanups.push(tmp.cleanup);
      const log = path.join(tmp.path, "side-effects.log");
      const env = { DWM_SIDE_EFFECT_LOG: log, DWM_EXAMPLE_SLOW_MS: "400", TMPDIR: tmp.path };

      const child = start(
        repo.path,
        ["run", "workflow.plan.json", "--concurrency", "2", "--no-sandbox"],
        env,
      );
      const atKill = await waitFor(repo.path, child, when);
      child.kill("SIGKILL");
      await exited(child);
      const doneBefore = new Set(
        events(repo.path)
          .filter((e) => e.type === "packet.completed")
          .map((e) => e.data.packet_id as string),
      );
      expect(atKill.length).toBeGreaterThan(0);
      // What the dead runner left (its in-flight attempt's folder, temp files) is recoverable, not
      // a failed verification: status and next send the operator to dwm run.
      const killedRun = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
      const st = await dwm(repo.path, ["status", killedRun, "--json"]);
      expect(st.code, st.stdout).toBe(0);
      expect(JSON.parse(st.stdout).next_action.kind).not.toBe("repair-integrity");
      const nx = JSON.parse((await dwm(repo.path, ["next", killedRun, "--json"])).stdout);
      expect(nx).toMatchObject({ action: "run", argv: ["dwm", "run", killedRun] });

      const again = start(repo.path, ["run", "--no-sandbox"], env);
      expect(await exited(again)).toBe(4);
      const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
      expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
      const last = start(repo.path, ["run", runId, "--no-sandbox"], env);
      expect(await exited(last)).toBe(0);
      expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);

      const ran = fs.readFileSync(log, "utf8").trim().split("\n");
      const count = (id: string) => ran.filter((r) => r === id).length;
      for (const id of ["scan_docs", "scan_lib", "scan_src", "report"]) {
        expect(count(id)).toBeGreaterThanOrEqual(1);
        if (doneBefore.has(id)) expect(count(id)).toBe(1);
      }
      const evs = events(repo.path);
      expect(evs.at(-1)?.type).toBe("run.completed");
      expect(evs.filter((e) => e.type === "packet.completed")).toHaveLength(6);
      expect(evs.some((e) => e.type === "lease.taken-over")).toBe(true);
    },
    60_000,
  );

  it("a second dwm run on the same run is refused while the first runs", async () => {
    const repo = auditRepo(cleanups);
    const tmp = makeTempDir("dwm-crash-");
    cleanups.push(tmp.cleanup);
    const env = { DWM_EXAMPLE_SLOW_MS: "400", TMPDIR: tmp.path };
    const child = start(repo.path, ["run", "workflow.plan.json"], env);
    await waitFor(repo.path, child, (evs) => evs.some((e) => e.type === "packet.dispatched"));
    const runId = fs.readdirSync(path.join(repo.path, ".dwm", "runs"))[0] as string;
    const second = await dwm(repo.path, ["run", runId]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("ERR_RUN_LOCKED");
    const next = JSON.parse((await dwm(repo.path, ["next", runId, "--json"])).stdout);
    expect(next.action).toBe("wait");
    expect(await exited(child)).toBe(4);
  }, 240_000);
});
