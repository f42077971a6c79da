import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "../test-support/operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function copyDir(from: string, to: string): void {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyDir(a, b);
    } else fs.copyFileSync(a, b);
  }
}

/** examples/<name> committed into a fresh repository. */
function example(name: string): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  copyDir(path.join(EXAMPLES, name), repo.path);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", name);
  trustOperator(repo.path);
  return repo;
}

async function dwm(cwd: string, argv: string[], env: Record<string, string | undefined> = {}, isTTY = false) {
  let stdout = "";
  let stderr = "";
  const lines: string[] = [];
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: wtRoot(), ...operatorEnv(), ...env },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: (l) => lines.push(l),
      isTTY,
    },
  );
  return { code, stdout, stderr, lines };
}

let wt: TempDir | null = null;
function wtRoot(): string {
  if (!wt) {
    wt = makeTempDir("dwm-cli-wt-");
    const w = wt;
    cleanups.push(() => {
      w.cleanup();
      wt = null;
    });
  }
  return wt.path;
}

describe("dwm run / dwm next on examples/repo-audit", () => {
  it("runs to the human gate (exit 4), next says approve, approve + run completes (exit 0), verify passes", async () => {
    const repo = example("repo-audit");
    const first = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(4);
    const outcome = JSON.parse(first.stdout);
    expect(validateSchema("run-outcome", outcome).ok).toBe(true);
    expect(outcome.status).toBe("gate");
    expect(outcome.waiting_gates.map((g: { gate_id: string }) => g.gate_id)).toEqual(["human-gate"]);
    const runId: string = outcome.run_id;
    expect(runId).toMatch(/^repo-audit-[0-9a-f]{12}$/);

    const next = await dwm(repo.path, ["next", "--json"]);
    expect(next.code).toBe(0);
    const step = JSON.parse(next.stdout);
    expect(validateSchema("next-action", step).ok).toBe(true);
    expect(step).toMatchObject({
      action: "approve-gate",
      gate_id: "human-gate",
      argv: ["dwm", "approve", runId, "human-gate"],
      frontier_status: "gate",
    });

    // Running again at the gate changes nothing but says so (exit 4 again).
    const again = await dwm(repo.path, ["run", runId]);
    expect(again.code).toBe(4);
    expect(again.stdout).toContain("stopped at a gate");

    expect((await dwm(repo.path, ["approve", runId, "human-gate"])).code).toBe(0);
    const last = await dwm(repo.path, ["run", runId]);
    expect(last.code).toBe(0);
    expect(last.stdout).toContain(`Run ${runId} is complete.`);
    // Not a TTY: one line per event.
    expect(last.lines.some((l) => /#\d+ run\.completed$/.test(l))).toBe(true);
    expect((await dwm(repo.path, ["verify", runId])).code).toBe(0);
    // bubblewrap works here (CI installs it): every attempt ran in it, nothing to flag.
    const journal = fs.readFileSync(path.join(repo.path, ".dwm/runs", runId, "journal.jsonl"), "utf8");
    const recorded = journal.split("\n").filter((l) => l.includes('"attempt.recorded"'));
    expect(recorded.length).toBeGreaterThan(0);
    for (const l of recorded) expect(JSON.parse(l).data.sandbox).toBe("bubblewrap");
    expect(
      JSON.parse((await dwm(repo.path, ["status", runId, "--json"])).stdout).unsandboxed_attempts,
    ).toBeUndefined();
    const done = JSON.parse((await dwm(repo.path, ["next", runId, "--json"])).stdout);
    // Complete: its result lands into the branch the run started from; then nothing is left.
    expect(done).toMatchObject({ action: "land", argv: ["dwm", "land", runId] });
    expect(git(repo.path, "show", `dwm/${runId}/integration:audit/report.md`)).toContain("## Findings");
    expect((await dwm(repo.path, ["land", runId])).code).toBe(0);
    const landed = JSON.parse((await dwm(repo.path, ["next", runId, "--json"])).stdout);
    expect(landed).toMatchObject({ action: "complete", argv: null });
  }, 240_000);

  it("--no-sandbox is journaled with each attempt; status and verify show the run's lower assurance", async () => {
    const repo = example("repo-audit");
    const first = await dwm(repo.path, ["run", "workflow.plan.json", "--no-sandbox", "--json"]);
    expect(first.code).toBe(4);
    const runId: string = JSON.parse(first.stdout).run_id;
    const journal = fs.readFileSync(path.join(repo.path, ".dwm/runs", runId, "journal.jsonl"), "utf8");
    const recorded = journal.split("\n").filter((l) => l.includes('"attempt.recorded"'));
    expect(recorded.map((l) => JSON.parse(l).data.sandbox)).toEqual(recorded.map(() => "none"));
    const status = await dwm(repo.path, ["status", runId, "--json"]);
    const report = JSON.parse(status.stdout);
    expect(validateSchema("status-report", report).ok).toBe(true);
    expect(report.unsandboxed_attempts).toBe(recorded.length);
    expect((await dwm(repo.path, ["status", runId])).stdout).toContain(
      `assurance lower: ${recorded.length} attempt(s) ran without an OS sandbox (recorded as sandbox none: --no-sandbox, or a dry run where no sandbox works)`,
    );
    const verify = await dwm(repo.path, ["verify", runId, "--json"]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).unsandboxed_attempts).toBe(recorded.length);
    expect((await dwm(repo.path, ["verify", runId])).stdout).toContain("assurance lower:");
  }, 240_000);

  it("on a terminal, a live block under the event lines counts done/total and is erased at the end", async () => {
    const repo = example("repo-audit");
    const r = await dwm(repo.path, ["run", "workflow.plan.json"], {}, true);
    expect(r.code).toBe(4);
    const plain = (l: string) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    const heads = r.lines.filter((l) => / done · /.test(l)).map(plain);
    expect(heads.length).toBeGreaterThan(5);
    expect(heads[0]).toMatch(/^\[00:00\] 0\/6 done · 0 running · attempts 0 · ETA -$/);
    // Six packets: five completed, the human gate's waiting for its review.
    expect(heads.at(-1)).toMatch(/^\[00:00\] 5\/6 done · 0 running · attempts 6 · ETA ~00:00$/);
    // Every event line is printed once, above the block; the block is erased when the run stops.
    expect(r.lines.filter((l) => /#\d+ /.test(plain(l)))).toHaveLength(43);
    expect(r.lines.at(-1)).toMatch(/^\x1b\[\d+A\x1b\[0J\x1b\[1A$/);
    expect(r.stdout).toContain("43 event(s)");
  });

  it("--ndjson streams the journal events, then the outcome; --until is checked", async () => {
    const repo = example("repo-audit");
    const r = await dwm(repo.path, ["run", "workflow.plan.json", "--ndjson", "--concurrency", "2"]);
    expect(r.code).toBe(4);
    const events = r.lines.map((l) => JSON.parse(l));
    expect(events[0].type).toBe("run.opened");
    expect(events.every((e) => validateSchema("journal-event", e).ok || e.kind === "note")).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "run.stopped", data: { reason: "gate" } });
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ kind: "run-outcome", status: "gate" });
    const bad = await dwm(repo.path, ["run", "workflow.plan.json", "--until", "later"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ERR_CLI_USAGE");
    const cat = await dwm(repo.path, ["run", "workflow.plan.json", "--approve", "human-review"]);
    expect(cat.code).toBe(2);
  }, 240_000);

  it("without bindings the run is refused with ERR_EXEC_NO_BINDING before anything is journaled", async () => {
    const repo = example("repo-audit");
    fs.rmSync(path.join(repo.path, "dwm.workers.json"));
    git(repo.path, "commit", "-qam", "no bindings");
    const r = await dwm(repo.path, ["run", "workflow.plan.json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ERR_EXEC_NO_BINDING");
    const runs = fs.readdirSync(path.join(repo.path, ".dwm", "runs"));
    expect(fs.existsSync(path.join(repo.path, ".dwm", "runs", runs[0] as string, "journal.jsonl"))).toBe(
      false,
    );
  }, 240_000);
});
