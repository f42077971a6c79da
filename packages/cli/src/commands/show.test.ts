// dwm show on real runs of the starter workflow whose inventory worker breaks the handoff: the
// failing checks with their command, exit code and output, the findings, and the next command.
import { validateSchema } from "@dwm/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { type Cleanups, dwm, inventoryWriting, runIdOf, starterRepo } from "../test-support/starter.js";

const cleanups: Cleanups = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("dwm show", () => {
  it("a missing required field: every attempt, the failing handoff check, the finding, and how to go on", async () => {
    const repo = await starterRepo(cleanups, inventoryWriting("JSON.stringify({files})"));
    const ran = await dwm(repo, ["run", "workflow.plan.json", "--approve", "write"], cleanups);
    expect(ran.code).toBe(1);
    const id = runIdOf(repo);
    expect(ran.stdout).toContain(`  $ dwm show ${id} inventory`);

    const r = await dwm(repo, ["show", id, "inventory", "--json"], cleanups);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(validateSchema("packet-detail", d).problems).toEqual([]);
    expect(d).toMatchObject({
      packet_id: "inventory",
      state: "failed",
      phase: { id: "inventory", name: "Inventory" },
      workers: [{ worker_id: "inventory-worker", ownership: ["dwm-out/inventory.json"], backend: "shell" }],
      depends_on: [],
      dependents: ["summary"],
      gates: [{ gate_id: "write", state: "approved" }],
      next_action: { kind: "inspect-failed", command: "dwm run workflow.plan.json" },
    });
    expect(d.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2]);
    const first = d.attempts[0];
    expect(first).toMatchObject({
      backends: ["shell"],
      outcome: "ok",
      verdict: "changes-requested",
      failure_class: "changes-requested",
      exit_code: 0,
      cost: { usd: null, source: null },
    });
    const handoff = first.failing_checks.find((c: { kind: string }) => c.kind === "handoff");
    expect(handoff.detail).toContain("count");
    expect(first.findings.length).toBeGreaterThan(0);
    expect(JSON.stringify(first.findings)).toContain("count");
    expect(first.diff.files).toEqual([
      { path: "dwm-out/inventory.json", status: "added", added: 1, removed: 0 },
    ]);

    const text = (await dwm(repo, ["show", id, "inventory"], cleanups)).stdout;
    expect(text).toContain("packet inventory of run");
    expect(text).toContain("attempt 2: ok → changes-requested [changes-requested]");
    expect(text).toContain("failing check handoff:dwm-out/inventory.json (handoff)");
    expect(text).toContain("  $ dwm run workflow.plan.json");

    const one = JSON.parse(
      (await dwm(repo, ["show", id, "inventory", "--attempt", "2", "--json"], cleanups)).stdout,
    );
    expect(one.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([2]);
    // The packet after it never ran: blocked behind the failed one.
    const after = JSON.parse((await dwm(repo, ["show", id, "summary", "--json"], cleanups)).stdout);
    expect(after).toMatchObject({ state: "blocked", attempts: [], depends_on: ["inventory"] });
  }, 120_000);

  it("a failing validation command: its command, exit code and the tail of its output", async () => {
    const repo = await starterRepo(cleanups, inventoryWriting(`'{"count": 1, "files": ['`));
    expect((await dwm(repo, ["run", "workflow.plan.json", "--approve", "write"], cleanups)).code).toBe(1);
    const d = JSON.parse((await dwm(repo, ["show", runIdOf(repo), "inventory", "--json"], cleanups)).stdout);
    const check = d.attempts[0].failing_checks.find((c: { kind: string }) => c.kind === "validation");
    expect(check).toMatchObject({
      command: `node -e "JSON.parse(require('fs').readFileSync('dwm-out/inventory.json','utf8'))"`,
      exit_code: 1,
      timed_out: false,
    });
    expect(check.output_tail).toContain("SyntaxError");
  }, 120_000);

  it("refuses an unknown packet or attempt in DWM's words", async () => {
    const repo = await starterRepo(cleanups);
    expect((await dwm(repo, ["compile", "workflow.plan.json"], cleanups)).code).toBe(0);
    const id = runIdOf(repo);
    const none = await dwm(repo, ["show", id, "nope"], cleanups);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("error ERR_CLI_PACKET_NOT_FOUND: run");
    const noAttempt = await dwm(repo, ["show", id, "inventory", "--attempt", "3"], cleanups);
    expect(noAttempt.code).toBe(2);
    expect(noAttempt.stderr).toContain("packet inventory has no attempt 3");
    const bad = await dwm(repo, ["show", id, "inventory", "--attempt", "x"], cleanups);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--attempt must be a whole number ≥ 1, not "x"');
    const fresh = JSON.parse((await dwm(repo, ["show", id, "inventory", "--json"], cleanups)).stdout);
    expect(fresh).toMatchObject({
      state: "blocked",
      attempts: [],
      next_action: { kind: "run", command: `dwm run ${id}` },
    });
  }, 60_000);
});
