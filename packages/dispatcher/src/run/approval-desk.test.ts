import fs from "node:fs";
import path from "node:path";
import { buildApproval, writeApproval } from "@dwm/gate-resolver";
import { readJournal } from "@dwm/runtime";
import type { Approval, Approver } from "@dwm/schemas";
import { FakeClock } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { type ExampleContext, exampleContext } from "../test-support/builders.js";
import { ApprovalDesk, approvableOnlyOnceOpen, operatorApprovals } from "./approval-desk.js";

// examples/repo-audit compiles two gates: `write` (a plan risk gate, category write) and
// `human-gate` (its human-gate phase). The journal is opened, so both are closed gates.

const operator: Approver = { name: "Ops Person", source: "os-user" };
const clock = new FakeClock("2026-01-01T02:00:00.000Z");
const writePolicy = {
  policy: { kind: "approval-policy" as const, schema_version: "1" as const, approve: ["write" as const] },
  name: "dwm.policy.json",
};

let open: ExampleContext | null = null;
afterEach(() => {
  open?.close();
  open = null;
});

async function desk() {
  open = await exampleContext("repo-audit");
  return { ...open, desk: new ApprovalDesk(open.ctx), log: open.ctx.log, setup: open.ctx.setup };
}

function approvalOf(x: Awaited<ReturnType<typeof desk>>, gateId: string): Approval {
  return buildApproval(x.log.state, x.setup.loaded, {
    gateId,
    decision: "approve",
    reason: "fine",
    approver: operator,
    clock,
  });
}

describe("operatorApprovals: which approvals the run's own options give", () => {
  it("--approve gives the operator's approval of the risk gates of those categories, ahead of the policy file", async () => {
    const x = await desk();
    const list = operatorApprovals(
      x.log.state,
      x.setup.loaded,
      { approve: { categories: ["write"], approver: operator }, policy: writePolicy },
      clock,
    );
    expect(list.map((a) => [a.gate_id, a.approver, a.reason])).toEqual([
      ["write", operator, "approved by the operator with dwm run --approve write"],
    ]);
  });

  it("the policy file's approvals are recorded as the policy file's", async () => {
    const x = await desk();
    const list = operatorApprovals(x.log.state, x.setup.loaded, { policy: writePolicy }, clock);
    expect(list.map((a) => [a.gate_id, a.approver])).toEqual([
      ["write", { name: "dwm.policy.json", source: "policy-file" }],
    ]);
  });

  it("never a human-gate phase's gate, never a category not listed, nothing without options", async () => {
    const x = await desk();
    const human = { approve: { categories: ["human-review"], approver: operator } };
    expect(operatorApprovals(x.log.state, x.setup.loaded, human, clock)).toEqual([]);
    expect(
      operatorApprovals(
        x.log.state,
        x.setup.loaded,
        { approve: { categories: [], approver: operator } },
        clock,
      ),
    ).toEqual([]);
    expect(operatorApprovals(x.log.state, x.setup.loaded, {}, clock)).toEqual([]);
  });

  it("a gate already decided gets none", async () => {
    const x = await desk();
    x.desk.count(approvalOf(x, "write"), writeApproval(x.setup.dir, approvalOf(x, "write")).path);
    expect(operatorApprovals(x.log.state, x.setup.loaded, { policy: writePolicy }, clock)).toEqual([]);
  });
});

describe("approvableOnlyOnceOpen", () => {
  it("a human-gate phase's gate and a run-time gate (no compiled gate) only once open; risk gates in advance", () => {
    expect(approvableOnlyOnceOpen("human-gate-phase")).toBe(true);
    expect(approvableOnlyOnceOpen(undefined)).toBe(true);
    for (const s of ["plan-risk-gate", "worker-permission", "surface"])
      expect(approvableOnlyOnceOpen(s)).toBe(false);
  });
});

describe("ApprovalDesk on a run store", () => {
  it("applyOperatorApprovals writes each approval under approvals/ and counts it once", async () => {
    const x = await exampleContext("repo-audit", { policy: writePolicy });
    open = x;
    const d = new ApprovalDesk(x.ctx);
    x.ctx.log.observe(d);
    d.applyOperatorApprovals();
    expect(x.ctx.log.state.gates.write?.state).toBe("approved");
    expect(x.ctx.log.activity.approvals).toEqual(["write"]);
    const approved = readJournal(x.ctx.setup.dir).events.filter((e) => e.type === "gate.approved");
    expect(approved.map((e) => (e.type === "gate.approved" ? e.data.files.map((f) => f.path) : []))).toEqual([
      ["approvals/write/1.json"],
    ]);
    d.applyOperatorApprovals();
    expect(x.ctx.log.activity.approvals).toEqual(["write"]);
  });

  it("absorb counts an approval dwm approve wrote, once; the next look finds nothing new", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const stored = writeApproval(x.setup.dir, approvalOf(x, "write"));
    x.desk.absorb();
    expect(x.log.state.gates.write?.state).toBe("approved");
    expect(x.log.activity.approvals).toEqual(["write"]);
    const seq = x.log.state.seq;
    x.desk.absorb();
    expect(x.log.state.seq).toBe(seq);
    expect(stored.path).toBe("approvals/write/1.json");
  });

  it("an approval that no longer holds (its gate changed) is not counted, and says why", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const a = approvalOf(x, "write");
    writeApproval(x.setup.dir, { ...a, gate_digest: `sha256:${"a".repeat(64)}` });
    const seq = x.log.state.seq;
    x.desk.absorb();
    expect(x.log.state.seq).toBe(seq);
    expect(x.log.activity.approvals).toEqual([]);
    expect(x.notes()).toEqual([
      expect.stringMatching(/^approval approvals\/write\/1\.json not used: ERR_GATE_STALE_DIGEST /),
    ]);
  });

  it("an approval already there when a human gate opens is refused (renamed, never counted); a risk gate's is kept", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const gates = new Map(x.setup.loaded.run.gates.map((g) => [g.gate_id, g.digest]));
    const planted = (gateId: string): Approval => ({
      kind: "approval",
      schema_version: "1",
      run_id: x.setup.runId,
      gate_id: gateId,
      gate_digest: gates.get(gateId) as Approval["gate_digest"],
      decision: "approve",
      reason: "planted",
      packets: [],
      approver: operator,
      at: "2026-01-01T00:00:00.000Z",
    });
    writeApproval(x.setup.dir, planted("human-gate"));
    writeApproval(x.setup.dir, planted("write"));
    const [opened] = x.log.append([
      {
        type: "gate.opened",
        data: {
          gate_id: "human-gate",
          gate_digest: gates.get("human-gate") as string,
          packets: ["human_gate"],
          reason: "r",
        },
      },
    ]);
    const refused = `approvals/human-gate/1.json.refused-${opened?.seq}`;
    expect(fs.existsSync(path.join(x.setup.dir, refused))).toBe(true);
    expect(fs.existsSync(path.join(x.setup.dir, "approvals/human-gate/1.json"))).toBe(false);
    expect(fs.existsSync(path.join(x.setup.dir, "approvals/write/1.json"))).toBe(true);
    expect(x.notes()).toEqual([
      `approval approvals/human-gate/1.json was there before gate human-gate opened: not counted (kept as ${refused})`,
    ]);
    x.desk.absorb();
    expect(x.log.state.gates["human-gate"]?.state).toBe("open");
    expect(x.log.activity.approvals).toEqual(["write"]);
  });
});
