import { describe, expect, it } from "vitest";
import { baseRef, evidenceRef, queuedAttemptBranch, workRef } from "./names.js";

// Golden names: the queue's refs spell run and packet ids exactly as the executor's attempt refs do.
describe("queue ref names", () => {
  const run = { runId: "r..x.lock", instance: "0f".repeat(16) };
  const i = "0f".repeat(16);

  it("evidence, work and attempt refs of a hostile fan-out id", () => {
    expect(evidenceRef(run, "p..q/x.lock", 2)).toBe(`refs/dwm/r.x-lock/${i}/evidence/p.q/x-lock/2`);
    expect(workRef(run, "p..q/x.lock", 2)).toBe(`refs/dwm/r.x-lock/${i}/work/p.q/x-lock/2`);
    expect(queuedAttemptBranch(run, "p..q/x.lock", 2)).toBe(`refs/dwm/r.x-lock/attempts/${i}/p.q/x-lock/2`);
    expect(baseRef(run)).toBe(`refs/dwm/r.x-lock/${i}/head`);
  });

  it("plain ids as they are", () => {
    const plain = { runId: "plan-0123", instance: i };
    expect(evidenceRef(plain, "scan", 1)).toBe(`refs/dwm/plan-0123/${i}/evidence/scan/1`);
    expect(workRef(plain, "fan/item-a", 3)).toBe(`refs/dwm/plan-0123/${i}/work/fan/item-a/3`);
  });
});
