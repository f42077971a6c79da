import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { phaseReviewer } from "./build.js";
import type { PlanPhaseView, PlanView, PlanWorkerView } from "./plan.js";

const plan = JSON.parse(
  fs.readFileSync(
    new URL("../../../../fixtures/plan-evaluator/plans/activate-fanout-0.6.json", import.meta.url),
    "utf8",
  ),
) as PlanView;
const workers = new Map<string, PlanWorkerView>(plan.workers.map((w) => [w.id, w]));
const phase = (id: string) => plan.phases.find((p) => p.id === id) as PlanPhaseView;

describe("phaseReviewer", () => {
  it("the phase's reviewer, as a worker that may only read (no write, shell or network, so no gate of its own)", () => {
    const r = phaseReviewer(phase("patch"), workers);
    expect(r?.id).toBe("verifier");
    expect(r?.tool_permissions).toEqual({
      read: true,
      write: false,
      shell: false,
      network: false,
      mcp_connectors: [],
      requires_escalation_for: [],
    });
    expect(r?.role).toBe(workers.get("verifier")?.role);
  });

  it("else the first of its workers' reviewers; else none; an unknown one is a plan error", () => {
    const auditor = { ...(workers.get("auditor") as PlanWorkerView), reviewer: "verifier" };
    const w = new Map(workers).set("auditor", auditor);
    expect(phaseReviewer(phase("audit-package"), w)?.id).toBe("verifier");
    expect(phaseReviewer(phase("audit-package"), workers)).toBeUndefined();
    expect(() => phaseReviewer({ ...phase("patch"), reviewer: "nobody" }, workers)).toThrow(
      expect.objectContaining({ code: "ERR_PLAN_INVALID" }),
    );
  });
});
