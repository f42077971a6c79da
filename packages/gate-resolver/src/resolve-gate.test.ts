import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact, signStatement } from "@dwm/core";
import type { Approval } from "@dwm/schemas";
import { FakeClock, makeTempDir, testOperatorKey, testTrust } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { type PendingApproval, pendingApprovals, writeApproval } from "./approval-store.js";
import { gateView } from "./gate-view.js";
import { policyApprovals } from "./policy.js";
import { refusalDraft } from "./refusal.js";
import { approvalPath, buildApproval, resolveGate } from "./resolve-gate.js";
import { approvalStatement, readSignedApproval, signApproval } from "./signed-approval.js";
import { Driver, demoRun, HUMAN_GATE, RUN_ID, reviewOf, WRITE_GATE } from "./test-support/run.js";
import { workerEnvironmentReason } from "./worker-env.js";

const clock = new FakeClock("2026-03-01T10:00:00.000Z");
const ada = { name: "Ada <ada@example.com>", source: "git" } as const;
const key = testOperatorKey();
/** The integration head "now" in these tests. */
const HEAD = "1234567890abcdef1234567890abcdef12345678";

/** Where an approval file lies, its bytes' digest, and the integration head now. */
function at(file: string) {
  return { approvalPath: file, approvalDigest: digest(`file ${file}`), integrationHead: HEAD };
}

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
};

function setup() {
  const view = demoRun();
  return { view, d: new Driver(view) };
}

function decide(
  d: Driver,
  gateId: string,
  decision: Approval["decision"],
  extra: { reason?: string; packets?: string[] } = {},
): Approval {
  return buildApproval(d.state, d.view, {
    gateId,
    decision,
    approver: ada,
    keyId: key.keyId,
    integrationHead: HEAD,
    clock,
    ...extra,
  });
}

/** Human gate reached: upstream completed, human_gate reviewed approved, its gate opened. */
function atHumanGate() {
  const s = setup();
  s.d.complete("inventory");
  s.d.apply(
    ...resolveGate(s.d.state, decide(s.d, "write", "approve"), s.view, {
      ...at(approvalPath("write", 1)),
    }).events,
  );
  s.d.complete("implement");
  s.d.complete("summary");
  s.d.attempt("human_gate", "approved");
  s.d.openGate("human-gate", ["human_gate"]);
  return s;
}

describe("resolveGate: approve", () => {
  it("a risk gate may be approved before the run reaches it (pre-approval)", () => {
    const { view, d } = setup();
    const approval = decide(d, "write", "approve");
    expect(approval).toEqual({
      kind: "approval",
      schema_version: "2",
      run_id: RUN_ID,
      gate_id: "write",
      gate_digest: digest(WRITE_GATE),
      integration_head: HEAD,
      decision: "approve",
      reason: "",
      packets: [],
      approver: ada,
      key_id: key.keyId,
      decided_by: "operator",
      policy: null,
      at: "2026-03-01T10:00:00.000Z",
    });
    const r = resolveGate(d.state, approval, view, at("approvals/write/1.json"));
    expect(r.copies).toEqual([]);
    expect(r.events).toEqual([
      {
        type: "gate.approved",
        data: {
          gate_id: "write",
          gate_digest: digest(WRITE_GATE),
          approval_digest: digest(approval),
          files: [{ path: "approvals/write/1.json", digest: digest("file approvals/write/1.json") }],
        },
      },
    ]);
    d.apply(...r.events);
    expect(d.state.gates.write?.state).toBe("approved");
    expect(() => decide(d, "write", "approve")).toThrow(
      expect.objectContaining({ code: "ERR_GATE_ALREADY_DECIDED" }),
    );
  });

  it("a human-gate phase is decided only once open, and its approval completes the packet with its handoffs", () => {
    const s = setup();
    expect(() => decide(s.d, "human-gate", "approve")).toThrow(
      expect.objectContaining({ code: "ERR_GATE_NOT_OPEN" }),
    );
    const { view, d } = atHumanGate();
    expect(gateView(d.state, view, "human-gate").waiting).toBe(true);
    const approval = decide(d, "human-gate", "approve", { reason: "ship it" });
    expect(() => resolveGate(d.state, approval, view, at("approvals/human-gate/1.json"))).toThrow(
      expect.objectContaining({ code: "ERR_GATE_REVIEW_REQUIRED" }),
    );
    expect(() =>
      resolveGate(d.state, approval, view, {
        ...at("approvals/human-gate/1.json"),
        review: reviewOf("human_gate", 2),
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_GATE_REVIEW_REQUIRED" }));
    const r = resolveGate(d.state, approval, view, {
      ...at("approvals/human-gate/1.json"),
      review: reviewOf("human_gate", 1),
    });
    expect(r.events.map((e) => e.type)).toEqual(["gate.approved", "handoff.registered", "packet.completed"]);
    expect(r.events[2]?.data).toEqual({
      packet_id: "human_gate",
      attempt: 1,
      branch: `dwm/${RUN_ID}/human_gate/1`,
      commit: "c".repeat(40),
    });
    expect(r.copies).toEqual([
      {
        artifact: "decision.md",
        from: "attempts/human_gate/1/outputs/decision.md",
        to: "handoffs/decision.md",
        digest: digest("decision"),
      },
    ]);
    d.apply(...r.events);
    expect(d.state.packets.human_gate?.state).toBe("completed");
    expect(d.state.handoffs["decision.md"]?.from_packet).toBe("human_gate");
  });

  it("a needs-human gate opened at run time: approval completes the reviewed attempt, rejection reopens the packet", () => {
    for (const decision of ["approve", "reject"] as const) {
      const { view, d } = setup();
      expect(d.attempt("inventory", "needs-human")).toBe(1);
      d.openGate("needs-human/inventory/1", ["inventory"], digest("runtime gate"));
      const gv = gateView(d.state, view, "needs-human/inventory/1");
      expect([gv.artifact, gv.preapprovable, gv.waiting, gv.digest]).toEqual([
        null,
        false,
        true,
        digest("runtime gate"),
      ]);
      const a = decide(
        d,
        "needs-human/inventory/1",
        decision,
        decision === "reject" ? { reason: "wrong files listed" } : {},
      );
      const r = resolveGate(d.state, a, view, {
        ...at("approvals/needs-human/inventory/1/1.json"),
        review: reviewOf("inventory", 1, { verdict: "needs-human" }),
      });
      d.apply(...r.events);
      if (decision === "approve") {
        expect(r.events.map((e) => e.type)).toEqual([
          "gate.approved",
          "handoff.registered",
          "packet.completed",
        ]);
        expect(d.state.packets.inventory?.state).toBe("completed");
      } else {
        expect(r.events.map((e) => e.type)).toEqual(["gate.rejected", "packet.reopened"]);
        expect(d.state.packets.inventory).toMatchObject({
          state: "pending",
          reason: "gate needs-human/inventory/1 rejected: wrong files listed",
        });
      }
    }
  });
});

describe("resolveGate: refused approvals", () => {
  it("of an unknown gate, for another run, for a changed gate", () => {
    const { view, d } = setup();
    expect(() => decide(d, "deploy", "approve")).toThrow(
      expect.objectContaining({ code: "ERR_GATE_UNKNOWN" }),
    );
    const good = decide(d, "write", "approve");
    expect(() =>
      resolveGate(d.state, { ...good, run_id: "other-0123456789ab" }, view, {
        ...at("approvals/write/1.json"),
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_GATE_FOREIGN_RUN" }));
    const stale = { ...good, gate_digest: digest({ ...WRITE_GATE, packets: [] }) };
    expect(() => resolveGate(d.state, stale, view, at("approvals/write/1.json"))).toThrow(
      expect.objectContaining({ code: "ERR_GATE_STALE_DIGEST", exitCode: 3 }),
    );
  });

  it("an approval of the gate as first opened is stale once it was reopened with another digest", () => {
    const { view, d } = atHumanGate();
    const first = decide(d, "human-gate", "reject", { reason: "redo the summary", packets: ["summary"] });
    d.apply(...resolveGate(d.state, first, view, at("approvals/human-gate/1.json")).events);
    d.complete("summary");
    d.attempt("human_gate", "approved");
    d.openGate("human-gate", ["human_gate"], digest({ ...HUMAN_GATE, trigger: "changed" }));
    const old = { ...first, decision: "approve" as const, reason: "", packets: [] };
    expect(() => resolveGate(d.state, old, view, at("approvals/human-gate/2.json"))).toThrow(
      expect.objectContaining({ code: "ERR_GATE_STALE_DIGEST" }),
    );
  });
});

describe("resolveGate: reject", () => {
  it("reopens the named packets and every completed packet downstream; the gate is asked again only after they complete", () => {
    const { view, d } = atHumanGate();
    expect(() => decide(d, "human-gate", "reject", { reason: "  " })).toThrow(
      expect.objectContaining({ code: "ERR_GATE_REASON_REQUIRED" }),
    );
    expect(() => decide(d, "human-gate", "reject", { reason: "x", packets: ["nope"] })).toThrow(
      expect.objectContaining({ code: "ERR_GATE_PACKET_UNKNOWN" }),
    );
    const rejection = decide(d, "human-gate", "reject", {
      reason: "the API change is not covered",
      packets: ["implement"],
    });
    const r = resolveGate(d.state, rejection, view, at("approvals/human-gate/1.json"));
    expect(r.events).toEqual([
      {
        type: "gate.rejected",
        data: {
          gate_id: "human-gate",
          gate_digest: digest(HUMAN_GATE),
          approval_digest: digest(rejection),
          packets: ["implement", "summary", "human_gate"],
          files: [{ path: "approvals/human-gate/1.json", digest: expect.any(String) }],
        },
      },
      ...["implement", "summary", "human_gate"].map((id) => ({
        type: "packet.reopened",
        data: { packet_id: id, reason: "gate human-gate rejected: the API change is not covered" },
      })),
    ]);
    d.apply(...r.events);
    expect(
      ["inventory", "implement", "summary", "human_gate"].map((id) => d.state.packets[id]?.state),
    ).toEqual(["completed", "pending", "pending", "pending"]);
    // Rejected: not asked again until the reworked packets have run their checks again.
    expect(() => decide(d, "human-gate", "approve")).toThrow(
      expect.objectContaining({ code: "ERR_GATE_NOT_OPEN" }),
    );
    expect(gateView(d.state, view, "human-gate").waiting).toBe(false);
    d.complete("implement");
    d.complete("summary");
    const n = d.attempt("human_gate", "approved");
    expect(n).toBe(2);
    d.openGate("human-gate", ["human_gate"]);
    const ok = decide(d, "human-gate", "approve");
    const done = resolveGate(d.state, ok, view, {
      ...at("approvals/human-gate/2.json"),
      review: reviewOf("human_gate", 2),
    });
    d.apply(...done.events);
    expect(d.state.packets.human_gate?.state).toBe("completed");
  });

  it("refuses to send back a packet that is being attempted", () => {
    const { view, d } = atHumanGate();
    d.apply({ type: "packet.reopened", data: { packet_id: "summary", reason: "test" } });
    d.apply({
      type: "packet.dispatched",
      data: { packet_id: "summary", attempt: 2, packet_digest: digest("s"), base_commit: null },
    });
    const rejection = decide(d, "human-gate", "reject", { reason: "no", packets: ["summary"] });
    expect(() => resolveGate(d.state, rejection, view, at("approvals/human-gate/1.json"))).toThrow(
      expect.objectContaining({ code: "ERR_GATE_PACKET_IN_FLIGHT" }),
    );
  });

  it("a rejected risk gate with no packets named only records the decision", () => {
    const { view, d } = setup();
    const rejection = decide(d, "write", "reject", { reason: "not on this branch" });
    const r = resolveGate(d.state, rejection, view, at("approvals/write/1.json"));
    expect(r.events.map((e) => e.type)).toEqual(["gate.rejected"]);
    d.apply(...r.events);
    expect(d.state.gates.write?.state).toBe("rejected");
  });
});

describe("policy approvals", () => {
  it("pre-approve listed risk categories, recorded as policy-file; never a human gate", () => {
    const { view, d } = atHumanGate();
    const s2 = setup();
    const list = policyApprovals(
      s2.d.state,
      view,
      { kind: "approval-policy", schema_version: "1", approve: ["write", "network"] },
      { clock, keyId: key.keyId, integrationHead: HEAD },
    );
    expect(
      list.map((a) => [a.gate_id, a.approver.source, a.reason, a.decided_by, a.policy, a.key_id]),
    ).toEqual([
      [
        "write",
        "policy-file",
        "pre-approved by dwm.policy.json: category write",
        "policy",
        "dwm.policy.json",
        key.keyId,
      ],
    ]);
    const r = resolveGate(s2.d.state, list[0] as Approval, view, at("approvals/write/1.json"));
    s2.d.apply(...r.events);
    expect(s2.d.state.gates.write?.state).toBe("approved");
    // Already approved, and the human gate (open in `d`) is never pre-approved.
    expect(
      policyApprovals(
        s2.d.state,
        view,
        { kind: "approval-policy", schema_version: "1", approve: ["write"] },
        { clock, keyId: key.keyId, integrationHead: HEAD },
      ),
    ).toEqual([]);
    expect(
      policyApprovals(
        d.state,
        view,
        { kind: "approval-policy", schema_version: "1", approve: ["write"] },
        { clock, keyId: key.keyId, integrationHead: HEAD },
      ),
    ).toEqual([]);
  });
});

describe("safe default ask", () => {
  it("a gate whose safe default is ask is never approved by a policy (nor by dwm run --approve); dwm approve still can", () => {
    const view = demoRun();
    const asking = { ...WRITE_GATE, default_action: "ask" as const };
    const askView = { ...view, gates: new Map([...view.gates, ["write", asking]]) };
    const d = new Driver(askView);
    const policy = {
      kind: "approval-policy" as const,
      schema_version: "1" as const,
      approve: ["write" as const],
    };
    const signing = { clock, keyId: key.keyId, integrationHead: HEAD };
    expect(policyApprovals(d.state, askView, policy, signing)).toEqual([]);
    expect(policyApprovals(d.state, view, policy, signing).map((a) => a.gate_id)).toEqual(["write"]);
    const mine = decide(d, "write", "approve");
    d.apply(...resolveGate(d.state, mine, askView, at(approvalPath("write", 1))).events);
    expect(d.state.gates.write?.state).toBe("approved");
  });
});

describe("approval files", () => {
  const trust = testTrust(key);
  const decisionEvent = (file: { path: string; digest: string }, a: Approval) =>
    [
      {
        seq: 1,
        prev: digest(0),
        type: "gate.approved",
        at: "2026-01-01T00:00:00.000Z",
        data: {
          gate_id: "write",
          gate_digest: a.gate_digest,
          approval_digest: digest(a),
          files: [file],
        },
        digest: digest(1),
      },
    ] as never;

  it("are signed bundles, numbered, canonical, never overwritten; unjournaled ones are pending until the journal names them", () => {
    const tmp = makeTempDir();
    try {
      const { d } = setup();
      const a = decide(d, "write", "approve");
      const first = writeApproval(tmp.path, a, key);
      const second = writeApproval(tmp.path, { ...a, reason: "again" }, key);
      expect([first.path, second.path]).toEqual(["approvals/write/1.json", "approvals/write/2.json"]);
      const text = fs.readFileSync(path.join(tmp.path, first.path), "utf8");
      expect(text).toBe(renderArtifact(signApproval(a, key)));
      expect(first.digest).toBe(digestBytes(text));
      expect(readSignedApproval(JSON.parse(text), trust)).toEqual({
        ok: true,
        approval: a,
        signer: expect.objectContaining({ keyId: key.keyId }),
      });
      fs.mkdirSync(path.join(tmp.path, "approvals/human-gate"), { recursive: true });
      fs.copyFileSync(path.join(tmp.path, first.path), path.join(tmp.path, "approvals/human-gate/1.json"));
      fs.writeFileSync(path.join(tmp.path, "approvals/write/7.json"), '{"forged":true}');
      const pending = pendingApprovals(tmp.path, decisionEvent(first, a), trust);
      expect(pending.map((p) => [p.path, p.gateId, p.approval !== null, p.problem?.code ?? null])).toEqual([
        ["approvals/human-gate/1.json", "human-gate", false, "ERR_GATE_APPROVAL_INVALID"],
        ["approvals/write/2.json", "write", true, null],
        ["approvals/write/7.json", "write", false, "ERR_SIGNATURE_UNSIGNED"],
      ]);
    } finally {
      tmp.cleanup();
    }
  });

  it("count only when signed by a trusted key: an unsigned (v1) approval, a stranger's signature and an edited one are refused", () => {
    const tmp = makeTempDir();
    try {
      const { d } = setup();
      const a = decide(d, "write", "approve");
      const dir = path.join(tmp.path, "approvals/write");
      fs.mkdirSync(dir, { recursive: true });
      // 1: what an unsigned approval used to be; 2: signed by a key the repository does not trust.
      const { key_id: _k, decided_by: _d, policy: _p, integration_head: _h, ...v1 } = a;
      fs.writeFileSync(path.join(dir, "1.json"), renderArtifact({ ...v1, schema_version: "1" }));
      const stranger = testOperatorKey(7);
      fs.writeFileSync(
        path.join(dir, "2.json"),
        renderArtifact(signApproval({ ...a, key_id: stranger.keyId }, stranger)),
      );
      // 3: signed by the operator, then its reason edited inside the payload.
      const bundle = signApproval(a, key);
      const stmt = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString("utf8"));
      stmt.predicate.reason = "edited";
      bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(stmt)).toString("base64");
      fs.writeFileSync(path.join(dir, "3.json"), renderArtifact(bundle));
      // 4: a good signature, in a non-canonical rendering (so its bytes could hide anything).
      fs.writeFileSync(path.join(dir, "4.json"), JSON.stringify(signApproval(a, key)));
      const pending = pendingApprovals(tmp.path, [], trust);
      expect(pending.map((p) => [p.path, p.approval, p.problem?.code, p.problem?.keyId])).toEqual([
        ["approvals/write/1.json", null, "ERR_SIGNATURE_UNSIGNED", null],
        ["approvals/write/2.json", null, "ERR_SIGNATURE_KEY_UNTRUSTED", stranger.keyId],
        ["approvals/write/3.json", null, "ERR_SIGNATURE_INVALID", key.keyId],
        ["approvals/write/4.json", null, "ERR_GATE_APPROVAL_INVALID", key.keyId],
      ]);
      expect(refusalDraft(pending[1] as PendingApproval, pending[1]?.problem as never)).toEqual({
        type: "approval.refused",
        data: {
          path: "approvals/write/2.json",
          gate_id: "write",
          code: "ERR_SIGNATURE_KEY_UNTRUSTED",
          reason: expect.stringContaining(stranger.keyId),
          key_id: stranger.keyId,
          files: [{ path: "approvals/write/2.json", digest: pending[1]?.digest }],
        },
      });
      // Once journaled as refused, a file is no longer pending.
      const refused = [
        {
          seq: 1,
          type: "approval.refused",
          data: refusalDraft(pending[0] as PendingApproval, pending[0]?.problem as never).data,
        },
      ] as never;
      expect(pendingApprovals(tmp.path, refused, trust).map((p) => p.path)).not.toContain(
        "approvals/write/1.json",
      );
    } finally {
      tmp.cleanup();
    }
  });

  it("a signed approval must name its signing key and the subjects its fields imply", () => {
    const { d } = setup();
    const a = decide(d, "write", "approve");
    expect(() => signApproval(a, testOperatorKey(3))).toThrow(
      expect.objectContaining({ code: "ERR_GATE_APPROVAL_INVALID" }),
    );
    const other = testOperatorKey(3);
    // Signed by a trusted key that is not the one the approval names.
    const mismatched = signStatement(approvalStatement(a), other);
    expect(readSignedApproval(mismatched, testTrust(key, other))).toMatchObject({
      ok: false,
      problem: { code: "ERR_GATE_APPROVAL_INVALID", message: expect.stringContaining("signed with") },
    });
    // Subjects that say another head than the predicate.
    const s = approvalStatement(a);
    const lying = signStatement({ ...s, subject: [s.subject[0]] }, key);
    expect(readSignedApproval(lying, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_GATE_APPROVAL_INVALID", message: expect.stringContaining("subjects") },
    });
    expect(approvalStatement(a).subject).toEqual([
      { name: "gate:write", digest: { sha256: digest(WRITE_GATE).slice(7) } },
      { name: "integration-head", digest: { gitCommit: HEAD } },
    ]);
  });

  it("resolveGate refuses an approval shown another integration head (something was committed after it)", () => {
    const { view, d } = setup();
    const a = decide(d, "write", "approve");
    expect(() =>
      resolveGate(d.state, a, view, { ...at("approvals/write/1.json"), integrationHead: "f".repeat(40) }),
    ).toThrow(
      expect.objectContaining({ code: "ERR_GATE_HEAD_MOVED", message: expect.stringContaining(HEAD) }),
    );
    expect(() =>
      resolveGate(d.state, a, view, { ...at("approvals/write/1.json"), integrationHead: null }),
    ).toThrow(expect.objectContaining({ code: "ERR_GATE_HEAD_MOVED" }));
  });
});

describe("workerEnvironmentReason", () => {
  it("recognises a DWM worker's environment and worktree", () => {
    const tmp = makeTempDir();
    try {
      expect(workerEnvironmentReason({ PATH: "/bin" }, tmp.path)).toBeNull();
      expect(workerEnvironmentReason({ DWM_ATTEMPT: "1", DWM_WORKER_ID: "w" }, tmp.path)).toBe(
        "the environment has DWM_ATTEMPT, DWM_WORKER_ID, which DWM gives its workers",
      );
      const wt = path.join(tmp.path, "dwm-wt-abc", "repo", "src");
      fs.mkdirSync(wt, { recursive: true });
      expect(workerEnvironmentReason({}, wt)).toContain("inside a DWM worktree");
      const other = path.join(tmp.path, "checkout", "sub");
      fs.mkdirSync(path.join(tmp.path, "checkout", ".dwm-inputs"), { recursive: true });
      fs.mkdirSync(other, { recursive: true });
      expect(workerEnvironmentReason({}, other)).toContain(".dwm-inputs");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("resolveGate: a rejection upstream of an approved gate", () => {
  it("reopens the human gate that judged the work it sends back, with a new digest; the old approval no longer counts", () => {
    const s = atHumanGate();
    const first = decide(s.d, "human-gate", "approve");
    s.d.apply(
      ...resolveGate(s.d.state, first, s.view, {
        ...at(approvalPath("human-gate", 1)),
        review: reviewOf("human_gate", 1),
      }).events,
    );
    expect(s.d.state.packets.human_gate?.state).toBe("completed");
    // A run-time gate on the summary is rejected, sending the inventory back: everything after it runs again.
    s.d.openGate("needs-human/summary/9", ["summary"], digest("nh"));
    const no = decide(s.d, "needs-human/summary/9", "reject", { reason: "recount", packets: ["inventory"] });
    const r = resolveGate(s.d.state, no, s.view, at(approvalPath("needs-human/summary/9", 1)));
    expect(
      r.events.map((e) => [
        e.type,
        (e.data as { packet_id?: string; gate_id?: string }).packet_id ??
          (e.data as { gate_id: string }).gate_id,
      ]),
    ).toEqual([
      ["gate.rejected", "needs-human/summary/9"],
      ["packet.reopened", "inventory"],
      ["packet.reopened", "implement"],
      ["packet.reopened", "summary"],
      ["packet.reopened", "human_gate"],
      // write permitted what implement does, which did not change; human-gate judged the work, which runs again.
      ["gate.reopened", "human-gate"],
    ]);
    s.d.apply(...r.events);
    expect(s.d.state.gates["human-gate"]).toMatchObject({ state: "closed", approval_digest: null });
    expect(s.d.state.gates["human-gate"]?.gate_digest).not.toBe(first.gate_digest);
    expect(s.d.state.gates.write?.state).toBe("approved");
    // Replaying the first approval (the old digest) is refused.
    const replay = { ...first, at: "2026-03-01T11:00:00.000Z" };
    expect(
      caught(() => resolveGate(s.d.state, replay, s.view, at(approvalPath("human-gate", 2)))),
    ).toMatchObject({
      code: "ERR_GATE_STALE_DIGEST",
    });
  });

  it("a superseded gate cannot be decided", () => {
    const s = atHumanGate();
    s.d.openGate("needs-human/summary/9", ["summary"], digest("nh"));
    const yes = decide(s.d, "needs-human/summary/9", "approve");
    s.d.apply({
      type: "gate.superseded",
      data: { gate_id: "needs-human/summary/9", packets: ["summary"], reason: "revision 2 changed summary" },
    });
    expect(
      caught(() => resolveGate(s.d.state, yes, s.view, at(approvalPath("needs-human/summary/9", 1)))),
    ).toMatchObject({
      code: "ERR_GATE_NOT_OPEN",
      message:
        "gate needs-human/summary/9 was superseded: revision 2 changed summary; nothing is asked any more",
    });
  });
});
