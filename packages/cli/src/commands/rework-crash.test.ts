// A packet that completed once (its handoff registered) is sent back by a rejection and completes
// again: the registration writes its new handoff over the old copy, then journals it. A runner
// killed between the two leaves a handoff the journal names with other bytes. That is a crash
// leftover when the bytes are exactly what the packet's latest attempt recorded (status says
// recoverable, `dwm run` registers and journals them, verify passes); any other bytes are tampering.
import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import type * as ingester from "@dwm/ingester";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { dwmInProcess, editJson, exampleRepo, journalEvents } from "../test-support/in-process.js";

/** The handoff copy after which the runner "dies" (the copy is made, the events never appended). */
const crash = vi.hoisted(() => ({ after: null as string | null }));
vi.mock("@dwm/ingester", async (original) => {
  const real = await original<typeof ingester>();
  return {
    ...real,
    registerHandoffs: (runDir: string, copies: Parameters<typeof real.registerHandoffs>[1]) => {
      real.registerHandoffs(runDir, copies);
      if (copies.some((c) => c.to === crash.after)) throw new Error("killed after the handoff copy");
    },
  };
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  crash.after = null;
  for (const c of cleanups.splice(0)) c();
});
let wt: TempDir;
beforeAll(() => {
  wt = makeTempDir("dwm-rework-crash-wt-");
});
afterAll(() => wt.cleanup());

const dwm = (cwd: string, argv: string[]) => dwmInProcess(cwd, argv, wt.path);
const REPORT = "handoffs/audit/report.md";

/**
 * examples/repo-audit whose report says which attempt wrote it; run to the human gate, the gate
 * rejected (the report goes back), and run again until the runner dies right after the
 * registration copied the reworked report. Returns the repository, the run and its folder.
 */
async function killedAfterReworkedCopy(): Promise<{ repo: string; runId: string; dir: string }> {
  const repo = exampleRepo("repo-audit", cleanups, (d) => {
    editJson<{ bindings: Record<string, { argv: string[] }> }>(d, "dwm.workers.json", (w) => {
      (w.bindings["report-worker"] as { argv: string[] }).argv = [
        "sh",
        "-c",
        'node scripts/report.mjs && printf "\\nattempt %s\\n" "$DWM_ATTEMPT" >> audit/report.md',
      ];
    });
  }).path;
  const first = await dwm(repo, ["run", "workflow.plan.json", "--json"]);
  expect(first.code, first.stderr).toBe(4);
  const runId = JSON.parse(first.stdout).run_id as string;
  const dir = path.join(repo, ".dwm", "runs", runId);
  const rej = await dwm(repo, ["reject", runId, "human-gate", "--reason", "again", "--packets", "report"]);
  expect(rej.code, rej.stderr).toBe(0);
  crash.after = REPORT;
  const killed = await dwm(repo, ["run", runId]);
  crash.after = null;
  expect(killed.code).not.toBe(0);
  return { repo, runId, dir };
}

const registered = (dir: string) =>
  journalEvents(dir)
    .filter((e) => e.type === "handoff.registered" && e.data.artifact === "audit/report.md")
    .map((e) => e.data.digest);

/** The digest attempt `n` of report recorded for its audit/report.md output. */
function recorded(dir: string, n: number): string {
  const a = JSON.parse(
    fs.readFileSync(path.join(dir, "attempts", "report", String(n), "attempt.json"), "utf8"),
  );
  return (a.outputs as { artifact: string; digest: string }[]).find((o) => o.artifact === "audit/report.md")
    ?.digest as string;
}

describe("a reworked handoff written over the registered one, the runner killed before the event", () => {
  it("the attempt's own bytes: recoverable; dwm run registers and journals them; verify passes", async () => {
    const { repo, runId, dir } = await killedAfterReworkedCopy();
    const [d1, d2] = [recorded(dir, 1), recorded(dir, 2)];
    expect(d2).not.toBe(d1);
    // The journal still names the first copy; the file holds the second.
    expect(registered(dir)).toEqual([d1]);
    expect(digestBytes(fs.readFileSync(path.join(dir, REPORT)))).toBe(d2);
    // The first report is not lost: attempt 1's own output keeps it, and the journal names it.
    expect(digestBytes(fs.readFileSync(path.join(dir, "attempts/report/1/outputs/audit/report.md")))).toBe(
      d1,
    );

    const v = await dwm(repo, ["verify", runId, "--json"]);
    const problems = JSON.parse(v.stdout).problems.map(
      (p: { code: string; file: string; repairable: boolean }) => [p.code, p.file, p.repairable],
    );
    expect(problems).toContainEqual(["ERR_VERIFY_LEFTOVER_ATTEMPT", REPORT, true]);
    expect(problems.filter((p: unknown[]) => p[2] === false)).toEqual([]);
    const st = await dwm(repo, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(0);
    expect(JSON.parse(st.stdout).next_action.kind).not.toBe("repair-integrity");

    const again = await dwm(repo, ["run", runId]);
    expect(again.code, again.stderr).toBe(4);
    expect(registered(dir)).toEqual([d1, d2]);
    expect((await dwm(repo, ["verify", runId])).code).toBe(0);
    expect((await dwm(repo, ["approve", runId, "human-gate"])).code).toBe(0);
    expect((await dwm(repo, ["run", runId])).code).toBe(0);
    expect((await dwm(repo, ["verify", runId])).code).toBe(0);
  }, 300_000);

  it("bytes that are not the attempt's: tampering, every changing command refuses (exit 3)", async () => {
    const { repo, runId, dir } = await killedAfterReworkedCopy();
    fs.writeFileSync(
      path.join(dir, REPORT),
      "# Audit report\n\n## Summary\n\nAll clear.\n\n## Findings\n\n- none\n",
    );
    const before = fs.readFileSync(path.join(dir, "journal.jsonl"));
    const st = await dwm(repo, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(3);
    const r = await dwm(repo, ["run", runId]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`ERR_VERIFY_FILE_DIGEST ${REPORT}`);
    expect(fs.readFileSync(path.join(dir, "journal.jsonl")).equals(before)).toBe(true);
  }, 300_000);
});
