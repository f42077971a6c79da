import fs from "node:fs";
import path from "node:path";
import { digest } from "@dwm/core";
import type { Approval } from "@dwm/schemas";
import { FakeClock, makeTempDir, testOperatorKey, testTrust } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { pendingApprovals, readPendingApproval, writeApproval } from "./approval-store.js";
import { gateView } from "./gate-view.js";
import { buildApproval, completesPackets, completionOnApproval, packetsToReopen } from "./resolve-gate.js";
import { Driver, demoRun, reviewOf } from "./test-support/run.js";

const clock = new FakeClock("2026-03-01T10:00:00.000Z");
const ada = { name: "Ada <ada@example.com>", source: "git" } as const;
const key = testOperatorKey();
const signer = { keyId: key.keyId, integrationHead: null };

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
};

describe("completesPackets: does approving the gate complete the packets it holds", () => {
  it("a human-gate phase's gate and a run-time gate holding packets do; a risk gate does not", () => {
    const d = new Driver(demoRun());
    expect(completesPackets(gateView(d.state, d.view, "human-gate"))).toBe(true);
    expect(completesPackets(gateView(d.state, d.view, "write"))).toBe(false);
    d.openGate("needs-human/summary/1", ["summary"], digest("g"));
    expect(completesPackets(gateView(d.state, d.view, "needs-human/summary/1"))).toBe(true);
    d.openGate("merge-conflict/x/1", [], digest("m"));
    expect(completesPackets(gateView(d.state, d.view, "merge-conflict/x/1"))).toBe(false);
  });
});

describe("completionOnApproval: how an approval completes one held packet", () => {
  it("nothing for a completed or unknown packet; attempt 0 for one that never ran", () => {
    const d = new Driver(demoRun());
    d.complete("inventory");
    expect(completionOnApproval(d.state, "g", "inventory", null)).toEqual({ events: [], copies: [] });
    expect(completionOnApproval(d.state, "g", "nope", null)).toEqual({ events: [], copies: [] });
    expect(completionOnApproval(d.state, "g", "summary", null)).toEqual({
      events: [{ type: "packet.completed", data: { packet_id: "summary", attempt: 0 } }],
      copies: [],
    });
  });

  it("a reviewed packet by the review of its last attempt, with that attempt's handoffs", () => {
    const d = new Driver(demoRun());
    d.attempt("summary", "needs-human");
    const r = reviewOf("summary", 1);
    expect(completionOnApproval(d.state, "g", "summary", r)).toEqual({
      events: [
        {
          type: "handoff.registered",
          data: {
            artifact: "decision.md",
            from_packet: "summary",
            digest: r.handoffs[0]?.digest,
            files: [{ path: "handoffs/decision.md", digest: r.handoffs[0]?.digest }],
          },
        },
        {
          type: "packet.completed",
          data: { packet_id: "summary", attempt: 1, branch: r.branch, commit: "c".repeat(40) },
        },
      ],
      copies: [
        {
          artifact: "decision.md",
          from: "attempts/summary/1/outputs/decision.md",
          to: "handoffs/decision.md",
          digest: r.handoffs[0]?.digest,
        },
      ],
    });
    for (const wrong of [
      null,
      reviewOf("summary", 2),
      reviewOf("implement", 1),
      { ...r, run_id: "other-0123456789ab" },
    ])
      expect(caught(() => completionOnApproval(d.state, "g", "summary", wrong))).toMatchObject({
        code: "ERR_GATE_REVIEW_REQUIRED",
        message: "approving gate g completes packet summary with attempt 1; its review is needed",
      });
  });

  it("never a packet in flight", () => {
    const d = new Driver(demoRun());
    d.apply({
      type: "packet.dispatched",
      data: { packet_id: "inventory", attempt: 1, packet_digest: digest("x"), base_commit: null },
    });
    expect(caught(() => completionOnApproval(d.state, "g", "inventory", null))).toMatchObject({
      code: "ERR_GATE_PACKET_IN_FLIGHT",
      details: { packet_id: "inventory", state: "dispatched" },
    });
  });
});

describe("packetsToReopen: what a rejection sends back", () => {
  const reject = (d: Driver, gateId: string, packets: string[] = []): Approval =>
    buildApproval(d.state, d.view, {
      gateId,
      decision: "reject",
      reason: "redo",
      packets,
      approver: ada,
      ...signer,
      clock,
    });

  it("the named packets and every downstream packet that moved on, in run order", () => {
    const d = new Driver(demoRun());
    d.complete("inventory");
    d.complete("implement");
    d.complete("summary");
    d.openGate("human-gate", ["human_gate"]);
    const view = gateView(d.state, d.view, "human-gate");
    expect(packetsToReopen(d.state, d.view, reject(d, "human-gate", ["implement"]), view)).toEqual([
      "implement",
      "summary",
    ]);
    // Nothing named: a gate that completes its packets sends back what it holds (pending ones stay as they are).
    expect(packetsToReopen(d.state, d.view, reject(d, "human-gate"), view)).toEqual(["human_gate"]);
  });

  it("nothing for a risk gate rejected without names; refuses while one of them is in flight", () => {
    const d = new Driver(demoRun());
    expect(packetsToReopen(d.state, d.view, reject(d, "write"), gateView(d.state, d.view, "write"))).toEqual(
      [],
    );
    d.complete("inventory");
    d.apply({
      type: "packet.dispatched",
      data: { packet_id: "implement", attempt: 1, packet_digest: digest("x"), base_commit: null },
    });
    d.openGate("needs-human/inventory/1", ["inventory"], digest("n"));
    const a = reject(d, "needs-human/inventory/1", ["inventory"]);
    expect(
      caught(() => packetsToReopen(d.state, d.view, a, gateView(d.state, d.view, "needs-human/inventory/1"))),
    ).toMatchObject({
      code: "ERR_GATE_PACKET_IN_FLIGHT",
      details: { packet_id: "implement", state: "dispatched" },
    });
  });
});

describe("readPendingApproval: does an approval file count", () => {
  it("only an approval that reads as one and lies where its gate's approvals belong; pending ones in number order", () => {
    const tmp = makeTempDir();
    try {
      const d = new Driver(demoRun());
      const a = buildApproval(d.state, d.view, {
        gateId: "write",
        decision: "approve",
        approver: ada,
        ...signer,
        clock,
      });
      const trust = testTrust(key);
      for (let i = 0; i < 10; i++) writeApproval(tmp.path, a, key);
      const root = path.join(tmp.path, "approvals");
      const good = readPendingApproval(root, "write/2.json", trust);
      expect(good).toMatchObject({
        path: "approvals/write/2.json",
        gateId: "write",
        approval: a,
        signer: { keyId: key.keyId },
        problem: null,
      });
      fs.mkdirSync(path.join(root, "human-gate"));
      fs.copyFileSync(path.join(root, "write/1.json"), path.join(root, "human-gate/3.json"));
      expect(readPendingApproval(root, "human-gate/3.json", trust)).toMatchObject({
        approval: null,
        problem: {
          code: "ERR_GATE_APPROVAL_INVALID",
          message: "approvals/human-gate/3.json is not where an approval of gate write belongs",
          keyId: key.keyId,
        },
      });
      const signed = JSON.parse(fs.readFileSync(path.join(root, "write/1.json"), "utf8"));
      fs.writeFileSync(path.join(root, "write/11.json"), `${JSON.stringify(signed)}\n`);
      const notCanonical = readPendingApproval(root, "write/11.json", trust);
      expect(notCanonical.approval).toBeNull();
      expect(notCanonical.problem?.message).toBe("the file is not in canonical rendering");
      fs.writeFileSync(path.join(root, "write/notes.json"), "{}");
      expect(pendingApprovals(tmp.path, [], trust).map((p) => p.path)).toEqual([
        "approvals/human-gate/3.json",
        ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => `approvals/write/${n}.json`),
      ]);
    } finally {
      tmp.cleanup();
    }
  });
});
