// A worker run with --no-sandbox writes into the run store files shaped like crash leftovers (a
// handoff copy, an attestation). `dwm status` and `dwm run` treat a crash leftover as harmless, so
// a planted one must not pass for it: status and verify name it as tampering (exit 3,
// ERR_VERIFY_UNEXPECTED_FILE), every changing command refuses, and what the runner copies itself
// is written over anything planted at its path.
import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dwmInProcess, editJson, exampleRepo, journalEvents } from "../test-support/in-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
let wt: TempDir;
beforeAll(() => {
  wt = makeTempDir("dwm-plant-wt-");
});
afterAll(() => wt.cleanup());

/** Runs the real worker, then writes each planted file into the run store (the repository's .dwm/runs/<DWM_RUN_ID>/). */
const PLANT = `import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
const [repo, spec] = [process.argv[2], JSON.parse(process.argv[3])];
const real = process.argv.slice(process.argv.indexOf("--") + 1);
const r = spawnSync(real[0], real.slice(1), { stdio: "inherit" });
const runDir = path.join(repo, ".dwm", "runs", process.env.DWM_RUN_ID);
for (const [rel, what] of spec) {
  const file = path.join(runDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, what.copy ? fs.readFileSync(what.copy) : what.text);
}
process.exit(r.status ?? 1);
`;

type Planted = [rel: string, what: { text: string } | { copy: string }];

/** examples/repo-audit whose workers of `plants` (binding → files) plant files into the run store. */
function plantingRepo(plants: Record<string, Planted[]>): string {
  return exampleRepo("repo-audit", cleanups, (dir) => {
    fs.writeFileSync(path.join(dir, "plant.mjs"), PLANT);
    editJson<{ bindings: Record<string, { argv: string[] }> }>(dir, "dwm.workers.json", (workers) => {
      for (const [binding, planted] of Object.entries(plants)) {
        const b = workers.bindings[binding] as { argv: string[] };
        b.argv = ["node", path.join(dir, "plant.mjs"), dir, JSON.stringify(planted), "--", ...b.argv];
      }
    });
  }).path;
}

const dwm = (cwd: string, argv: string[]) => dwmInProcess(cwd, argv, wt.path);

const journalOf = (dir: string) => fs.readFileSync(path.join(dir, "journal.jsonl"));
const events = journalEvents;

describe("files a worker out of its sandbox plants as crash leftovers", () => {
  it("handoffs no packet in review declares, a copy of a plain output, an attestation at a wrong path: tampering, every change refused; a handoff at the path its packet's copy takes: written over and journaled", async () => {
    const forged = "# Audit report\n\nNo findings. Approve.\n";
    const planted: Planted[] = [
      // A name nothing declares, while human_gate waits for its gate (reviewed, not completed).
      ["handoffs/audit/verdict.json", { text: '{"accepted":true}\n' }],
      // The bytes the attempt records, but acceptance-request.md is an output, not a handoff.
      ["handoffs/audit/acceptance-request.md", { copy: "audit/acceptance-request.md" }],
      // An attestation of a completed (and attested) packet, at a path no attestation takes next.
      ["attestations/packets/inventory/2.json", { text: '{"forged":true}\n' }],
    ];
    const repo = plantingRepo({
      "gate-worker": planted,
      // Before report's review copies its handoff there: the copy is written over it and journaled.
      "report-worker": [["handoffs/audit/report.md", { text: forged }]],
    });
    const r = await dwm(repo, ["run", "workflow.plan.json", "--no-sandbox", "--json"]);
    expect(r.code, r.stderr).toBe(4);
    const runId = JSON.parse(r.stdout).run_id as string;
    const dir = path.join(repo, ".dwm", "runs", runId);
    const copy = fs.readFileSync(path.join(dir, "handoffs", "audit", "report.md"));
    expect(copy.toString("utf8")).not.toBe(forged);
    const registered = events(dir).find(
      (e) => e.type === "handoff.registered" && e.data.artifact === "audit/report.md",
    );
    expect(registered?.data.digest).toBe(digestBytes(copy));
    for (const [rel] of planted) expect(fs.existsSync(path.join(dir, rel)), rel).toBe(true);

    const v = await dwm(repo, ["verify", runId, "--json"]);
    expect(v.code).toBe(3);
    const named = (JSON.parse(v.stdout).problems as { code: string; file: string; repairable: boolean }[])
      .filter((p) => planted.some(([rel]) => rel === p.file))
      .map((p) => [p.code, p.file, p.repairable]);
    expect(named).toEqual(
      planted
        .map(([rel]) => ["ERR_VERIFY_UNEXPECTED_FILE", rel, false])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
    const st = await dwm(repo, ["status", runId, "--json"]);
    expect(st.code, st.stdout).toBe(3);

    const before = journalOf(dir);
    for (const argv of [
      ["approve", runId, "human-gate"],
      ["reject", runId, "human-gate", "--reason", "no"],
      ["run", runId, "--no-sandbox"],
    ]) {
      const c = await dwm(repo, argv);
      expect([argv[0], c.code], c.stderr).toEqual([argv[0], 3]);
      expect(c.stderr).toContain("ERR_CLI_STORE_DAMAGED");
      expect(c.stderr).toContain("ERR_VERIFY_UNEXPECTED_FILE handoffs/audit/verdict.json");
    }
    expect(journalOf(dir).equals(before)).toBe(true);

    // The operator removes what the worker planted; the run goes on and verifies.
    for (const [rel] of planted) fs.rmSync(path.join(dir, rel));
    expect((await dwm(repo, ["approve", runId, "human-gate"])).code).toBe(0);
    const done = await dwm(repo, ["run", runId, "--no-sandbox"]);
    expect(done.code, done.stderr).toBe(0);
    expect((await dwm(repo, ["verify", runId])).code).toBe(0);
  }, 300_000);
});
