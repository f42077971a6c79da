import { digest } from "@dwm/core";
import type { Approval } from "@dwm/schemas";
import { FakeClock, testOperatorKey } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { isFinalRefusal } from "./refusal.js";
import { approvalPath, buildApproval, resolveGate } from "./resolve-gate.js";
import { Driver, demoRun, reviewOf } from "./test-support/run.js";

const clock = new FakeClock("2026-03-01T10:00:00.000Z");
const ada = { name: "Ada <ada@example.com>", source: "git" } as const;
const key = testOperatorKey();
const HEAD = "1234567890abcdef1234567890abcdef12345678";
const at = (file: string) => ({
  approvalPath: file,
  approvalDigest: digest(`file ${file}`),
  integrationHead: HEAD,
});

function decide(d: Driver, gateId: string, decision: Approval["decision"], reason = ""): Approval {
  return buildApproval(d.state, d.view, {
    gateId,
    decision,
    reason,
    approver: ada,
    keyId: key.keyId,
    integrationHead: HEAD,
    clock,
  });
}

/** The refusal resolveGate throws (code and details), or null. */
function refusal(f: () => unknown): { code: string; details?: Record<string, unknown> } | null {
  try {
    f();
  } catch (e) {
    return e as { code: string; details?: Record<string, unknown> };
  }
  return null;
}

/** The demo run at its human gate (open), the risk gate approved. */
function atHumanGate(): Driver {
  const d = new Driver(demoRun());
  d.complete("inventory");
  d.apply(
    ...resolveGate(d.state, decide(d, "write", "approve"), d.view, at(approvalPath("write", 1))).events,
  );
  d.complete("implement");
  d.complete("summary");
  d.attempt("human_gate", "approved");
  d.openGate("human-gate", ["human_gate"]);
  return d;
}

describe("isFinalRefusal: an approval that can never count is journaled as refused, not left pending", () => {
  it("ERR_GATE_NOT_OPEN of a human gate not reached yet is transient", () => {
    const d = new Driver(demoRun());
    const e = refusal(() => decide(d, "human-gate", "approve"));
    expect(e?.code).toBe("ERR_GATE_NOT_OPEN");
    expect(isFinalRefusal(e?.code ?? "", e?.details)).toBe(false);
  });

  it("two decisions written for one open gate: once the rejection counts, the approval is refused for good (rejected)", () => {
    const d = atHumanGate();
    const review = reviewOf("human_gate", 1);
    const no = decide(d, "human-gate", "reject", "not covered");
    const yes = decide(d, "human-gate", "approve");
    d.apply(...resolveGate(d.state, no, d.view, { ...at(approvalPath("human-gate", 1)), review }).events);
    expect(d.state.gates["human-gate"]?.state).toBe("rejected");
    const e = refusal(() =>
      resolveGate(d.state, yes, d.view, { ...at(approvalPath("human-gate", 2)), review }),
    );
    expect(e).toMatchObject({
      code: "ERR_GATE_NOT_OPEN",
      details: { gate_id: "human-gate", gate_state: "rejected" },
    });
    expect(isFinalRefusal(e?.code ?? "", e?.details)).toBe(true);
  });

  it("an approval of a gate superseded after it was written is refused for good (superseded)", () => {
    const d = atHumanGate();
    d.openGate("needs-human/summary/9", ["summary"], digest("nh"));
    const yes = decide(d, "needs-human/summary/9", "approve");
    d.apply({
      type: "gate.superseded",
      data: { gate_id: "needs-human/summary/9", packets: ["summary"], reason: "gate human-gate rejected" },
    });
    const e = refusal(() => resolveGate(d.state, yes, d.view, at(approvalPath("needs-human/summary/9", 1))));
    expect(e).toMatchObject({
      code: "ERR_GATE_NOT_OPEN",
      details: { gate_id: "needs-human/summary/9", gate_state: "superseded" },
    });
    expect(isFinalRefusal(e?.code ?? "", e?.details)).toBe(true);
  });

  it("the other transient refusals stay transient; everything else is final", () => {
    expect(isFinalRefusal("ERR_GATE_PACKET_IN_FLIGHT")).toBe(false);
    expect(isFinalRefusal("ERR_GATE_REVIEW_REQUIRED")).toBe(false);
    expect(isFinalRefusal("ERR_GATE_NOT_OPEN")).toBe(false);
    expect(isFinalRefusal("ERR_GATE_NOT_OPEN", { gate_state: "closed" })).toBe(false);
    expect(isFinalRefusal("ERR_GATE_STALE_DIGEST")).toBe(true);
    expect(isFinalRefusal("ERR_GATE_ALREADY_DECIDED")).toBe(true);
  });
});
