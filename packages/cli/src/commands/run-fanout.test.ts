// examples/fan-out through the built CLI (packages/cli/dist/dwm.cjs): a fan-out over N documents
// (DWM_FANOUT_ITEMS, default 8; the figure is 200) killed with SIGKILL halfway through
// its items, resumed (no completed item runs again), then its source changed for 3 items and run
// again: exactly those 3 items (both per-item phases), the source and the reduce run.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import {
  dwmInProcess as dwm,
  type JournalEvent as Ev,
  journalEvents as events,
  exited,
  requireBuiltCli,
  runDir,
  startDwm as start,
  waitForEvents,
} from "../test-support/built-cli.js";
import { trustOperator } from "../test-support/operator.js";

const EXAMPLE = fileURLToPath(new URL("../../../../examples/fan-out", import.meta.url));
const N = Number(process.env.DWM_FANOUT_ITEMS ?? 8);
const cleanups: (() => void)[] = [];
// Removing a repository with 2N attempt branches takes a while on a busy machine.
afterEach(
  () => {
    for (const c of cleanups.splice(0)) c();
  },
  Math.max(30_000, N * 1_000),
);

function fanoutRepo(n: number): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  fs.cpSync(EXAMPLE, repo.path, { recursive: true });
  fs.rmSync(path.join(repo.path, "docs"), { recursive: true });
  fs.mkdirSync(path.join(repo.path, "docs"));
  for (let i = 1; i <= n; i++) {
    const id = `doc-${String(i).padStart(3, "0")}`;
    fs.writeFileSync(
      path.join(repo.path, "docs", `${id}.md`),
      `# ${id}\n\n${"word ".repeat((i * 7) % 50)}\n`,
    );
  }
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "fan-out example");
  trustOperator(repo.path);
  return repo;
}

const waitFor = (repo: string, child: Parameters<typeof waitForEvents>[1], when: (evs: Ev[]) => boolean) =>
  waitForEvents(repo, child, when, 20);

const isItem = (id: string | undefined) => id?.startsWith("measure/") || id?.startsWith("grade/");
const dispatchedIds = (evs: Ev[]) =>
  evs.filter((e) => e.type === "packet.dispatched").map((e) => e.data.packet_id as string);

requireBuiltCli();

describe(`dwm run: a fan-out over ${N} items (built CLI)`, () => {
  it(
    "killed halfway resumes without re-running a completed item; 3 changed items re-run alone",
    async () => {
      const repo = fanoutRepo(N);
      const tmp = makeTempDir("dwm-fanout-");
      cleanups.push(tmp.cleanup);
      const env = { TMPDIR: tmp.path };

      // 1. run, SIGKILL once half of the 2N item packets completed
      const child = start(repo.path, ["run", "workflow.plan.json", "--concurrency", "4"], env);
      await waitFor(
        repo.path,
        child,
        (evs) => evs.filter((e) => e.type === "packet.completed" && isItem(e.data.packet_id)).length >= N,
      );
      child.kill("SIGKILL");
      await exited(child);
      const doneBefore = new Set(
        events(repo.path)
          .filter((e) => e.type === "packet.completed")
          .map((e) => e.data.packet_id as string),
      );
      expect([...doneBefore].filter(isItem).length).toBeGreaterThanOrEqual(N);
      expect([...doneBefore].filter(isItem).length).toBeLessThan(2 * N);

      // 2. resume: runs to the gate phase; no completed packet ran again
      expect(await exited(start(repo.path, ["run"], env))).toBe(4);
      let evs = events(repo.path);
      const ran = dispatchedIds(evs);
      for (const id of doneBefore) expect(ran.filter((r) => r === id)).toEqual([id]);
      expect(ran.filter((id) => id.startsWith("measure/")).length).toBeGreaterThanOrEqual(N);
      expect(new Set(ran.filter(isItem)).size).toBe(2 * N);
      const runId = path.basename(runDir(repo.path));
      expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);

      // status groups the item packets under their fan-out phase
      const st = await dwm(repo.path, ["status", runId, "--json"]);
      const report = JSON.parse(st.stdout);
      expect(report.fanouts).toEqual([
        {
          phase: "measure",
          first: "measure",
          source_packet: "list",
          items: N,
          counts: { completed: N },
          failing: [],
        },
        {
          phase: "grade",
          first: "measure",
          source_packet: "list",
          items: N,
          counts: { completed: N },
          failing: [],
        },
      ]);
      expect(report.counts).toMatchObject({ completed: 2 * N + 2, expanded: 2 });
      const text = (await dwm(repo.path, ["status", runId])).stdout;
      expect(text).toContain(`fan-out measure (items of list): ${N} item packets: completed ${N}`);
      expect(text).not.toMatch(/^measure\/doc-001/m);

      // 3. the source changes for 3 items (revised documents); recompile and run again
      const planFile = path.join(repo.path, "workflow.plan.json");
      const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
      const list = plan.phases.find((p: { id: string }) => p.id === "list");
      list.command.run = ["node", "scripts/list.mjs", "--revise", "doc-001,doc-002,doc-003"];
      fs.writeFileSync(planFile, JSON.stringify(plan, null, 2));
      expect((await dwm(repo.path, ["compile", "workflow.plan.json"])).code).toBe(0);
      const mark = events(repo.path).length;
      expect(await exited(start(repo.path, ["run", runId], env))).toBe(4);
      evs = events(repo.path);
      const rerun = dispatchedIds(evs.slice(mark)).sort();
      const revised = (p: string) => rerun.filter((id) => id.startsWith(p)).length;
      expect(rerun).toHaveLength(8);
      expect(rerun.filter((id) => !isItem(id))).toEqual(["list", "report"]);
      for (const p of ["measure/doc-001-", "measure/doc-002-", "measure/doc-003-", "grade/doc-001-"])
        expect(revised(p)).toBe(1);
      const expansions = evs.filter((e) => e.type === "fanout.expanded");
      expect(expansions).toHaveLength(2);
      expect(expansions[1]?.data.dropped).toHaveLength(6);
      expect(expansions[1]?.data.packets).toHaveLength(2 * N);

      // 4. the gate phase: approve, complete, verify
      expect((await dwm(repo.path, ["approve", runId, "human-gate-accept"])).code).toBe(0);
      expect(await exited(start(repo.path, ["run", runId], env))).toBe(0);
      expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);
      const summary = git(repo.path, "show", `dwm/${runId}/integration:reports/summary.md`);
      expect(summary).toContain(`${N} documents graded.`);
      expect(summary).toMatch(/\| doc-002 \| 2 \|/);
      expect(summary).toMatch(/\| doc-004 \| 1 \|/);
    },
    Math.max(600_000, N * 15_000),
  );
});
