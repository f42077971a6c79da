// Smoke test of `pnpm bench --quick`: every scenario in bench/scenarios runs and writes a
// well-formed result. It checks the shape of what was measured, never a figure (no thresholds).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const scenarios = fs
  .readdirSync(path.join(benchDir, "scenarios"))
  .filter((f) => f.endsWith(".mjs"))
  .map((f) => f.replace(/\.mjs$/, ""))
  .sort();
// The pinned agent CLIs are always set up (scripts/ci-setup.sh, run by `pnpm test` and .ci/run)
// unless the user left them out: only then may the side by side with Claude Code skip.
const agentClisLeftOut = (process.env.DWM_TEST_SKIP ?? "").split(/[\s,]+/).includes("agent-clis");

describe("pnpm bench --quick", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-results-"));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
  let run;

  it("runs every scenario and exits 0", () => {
    run = spawnSync(process.execPath, [path.join(benchDir, "run.mjs"), "--quick"], {
      cwd: path.dirname(benchDir),
      env: { ...process.env, DWM_BENCH_RESULTS: out },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    for (const name of scenarios) expect(run.stdout).toContain(`## ${name} (`);
  });

  it.each(scenarios)("%s wrote a well-formed result", (name) => {
    const file = path.join(out, `${name}.json`);
    expect(fs.existsSync(file), `${file} missing`).toBe(true);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(doc.scenario).toBe(name);
    expect(doc.quick).toBe(true);
    expect(typeof doc.machine?.node).toBe("string");
    expect(doc.scenario_process_peak_rss_mib).toBeGreaterThan(0);
    expect(Array.isArray(doc.rows)).toBe(true);
    if (doc.skipped !== undefined) {
      // Only a scenario that needs something absent may skip, and it says what.
      expect(typeof doc.skipped).toBe("string");
      expect(doc.skipped).not.toBe("");
      if (name === "claude-workflows")
        expect(agentClisLeftOut, `skipped without DWM_TEST_SKIP=agent-clis: ${doc.skipped}`).toBe(true);
      return;
    }
    expect(doc.rows.length).toBeGreaterThan(0);
    // Every scenario reports a ratio against a floor measured in the same run, as a number.
    const ratios = doc.rows.flatMap((r) =>
      Object.entries(r).filter(([k, v]) => k.includes("ratio") && v !== ""),
    );
    expect(ratios.length, "no ratio column").toBeGreaterThan(0);
    for (const [, v] of ratios) expect(Number.isFinite(Number(v)), `ratio ${v}`).toBe(true);
  });

  it("fanout ran the side by side with xargs on the quick repository, results equal", () => {
    const doc = JSON.parse(fs.readFileSync(path.join(out, "fanout.json"), "utf8"));
    const row = doc.rows.find((r) => r.measure === "vs xargs");
    expect(row, "no vs xargs row").toBeDefined();
    // The scenario fails before writing its result when the sides differ; the row says they did not.
    expect(row.equal).toBe(true);
    expect(row.items).toBe(20);
    expect(row.files).toBe(25);
    expect(row.concurrency).toBe(8);
    expect(row.sandbox).toMatch(/^(bubblewrap \(.+\)|none: bubblewrap missing, --no-sandbox)$/);
    for (const k of ["xargs_ms", "dwm_ms", "ratio", "overhead_per_item_ms"])
      expect(Number.isFinite(Number(row[k])), `${k} ${row[k]}`).toBe(true);
    expect(Number(row.dwm_ms)).toBeGreaterThan(0);
    expect(Number(row.xargs_ms)).toBeGreaterThan(0);
    // The main branch and the run's integration branch, no per-item branches.
    expect(row.branches_left).toBe(2);
  });
});
