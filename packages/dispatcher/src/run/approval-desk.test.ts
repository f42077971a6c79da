import fs from "node:fs";
import path from "node:path";
import { renderArtifact } from "@dwm/core";
import { buildApproval, signApproval, writeApproval } from "@dwm/gate-resolver";
import { readJournal } from "@dwm/runtime";
import type { Approval, Approver } from "@dwm/schemas";
import { FakeClock, git, testOperatorKey } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { integrationBranch } from "../integration.js";
import { type ExampleContext, exampleContext } from "../test-support/builders.js";
import { approvalHeadOf, OPERATOR } from "../test-support/operator.js";
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

/** The head `dwm approve` would show now: the base commit, as nothing is merged in these tests. */
const headOf = (x: Awaited<ReturnType<typeof desk>>) =>
  approvalHeadOf(x.setup.repo, x.setup.runId, x.setup.baseCommit);
const signing = (x: Awaited<ReturnType<typeof desk>>) => ({
  clock,
  keyId: OPERATOR.key.keyId,
  integrationHead: headOf(x),
});

function approvalOf(x: Awaited<ReturnType<typeof desk>>, gateId: string): Approval {
  return buildApproval(x.log.state, x.setup.loaded, {
    gateId,
    decision: "approve",
    reason: "fine",
    approver: operator,
    keyId: OPERATOR.key.keyId,
    integrationHead: headOf(x),
    clock,
  });
}

/** The approval.refused events of the run's journal: file, code, key. */
function refusals(x: { setup: { dir: string } }): [string, string, string | null][] {
  return readJournal(x.setup.dir).events.flatMap((e) =>
    e.type === "approval.refused"
      ? [[e.data.path, e.data.code, e.data.key_id] as [string, string, string | null]]
      : [],
  );
}

describe("operatorApprovals: which approvals the run's own options give", () => {
  it("--approve gives the operator's approval of the risk gates of those categories, ahead of the policy file", async () => {
    const x = await desk();
    const list = operatorApprovals(
      x.log.state,
      x.setup.loaded,
      { approve: { categories: ["write"], approver: operator }, policy: writePolicy },
      signing(x),
    );
    expect(list.map((a) => [a.gate_id, a.approver, a.reason, a.decided_by, a.policy, a.key_id])).toEqual([
      [
        "write",
        operator,
        "approved by the operator with dwm run --approve write",
        "policy",
        "dwm run --approve write",
        OPERATOR.key.keyId,
      ],
    ]);
  });

  it("the policy file's approvals are recorded as the policy file's", async () => {
    const x = await desk();
    const list = operatorApprovals(x.log.state, x.setup.loaded, { policy: writePolicy }, signing(x));
    expect(list.map((a) => [a.gate_id, a.approver, a.decided_by, a.policy])).toEqual([
      ["write", { name: "dwm.policy.json", source: "policy-file" }, "policy", "dwm.policy.json"],
    ]);
  });

  it("never a human-gate phase's gate, never a category not listed, nothing without options", async () => {
    const x = await desk();
    const human = { approve: { categories: ["human-review"], approver: operator } };
    expect(operatorApprovals(x.log.state, x.setup.loaded, human, signing(x))).toEqual([]);
    expect(
      operatorApprovals(
        x.log.state,
        x.setup.loaded,
        { approve: { categories: [], approver: operator } },
        signing(x),
      ),
    ).toEqual([]);
    expect(operatorApprovals(x.log.state, x.setup.loaded, {}, signing(x))).toEqual([]);
  });

  it("a gate already decided gets none", async () => {
    const x = await desk();
    x.desk.count(
      approvalOf(x, "write"),
      writeApproval(x.setup.dir, approvalOf(x, "write"), OPERATOR.key),
      headOf(x),
    );
    expect(operatorApprovals(x.log.state, x.setup.loaded, { policy: writePolicy }, signing(x))).toEqual([]);
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
  it("applyOperatorApprovals signs each approval with the operator's key, writes it under approvals/ and counts it once", async () => {
    const x = await exampleContext("repo-audit", { policy: writePolicy });
    open = x;
    const d = new ApprovalDesk(x.ctx);
    x.ctx.log.observe(d);
    await d.applyOperatorApprovals();
    expect(x.ctx.log.state.gates.write?.state).toBe("approved");
    expect(x.ctx.log.activity.approvals).toEqual(["write"]);
    const approved = readJournal(x.ctx.setup.dir).events.filter((e) => e.type === "gate.approved");
    expect(approved.map((e) => (e.type === "gate.approved" ? e.data.files.map((f) => f.path) : []))).toEqual([
      ["approvals/write/1.json"],
    ]);
    const file = JSON.parse(fs.readFileSync(path.join(x.ctx.setup.dir, "approvals/write/1.json"), "utf8"));
    expect(file.dsseEnvelope.signatures[0].keyid).toBe(OPERATOR.key.keyId);
    await d.applyOperatorApprovals();
    expect(x.ctx.log.activity.approvals).toEqual(["write"]);
  });

  it("absorb counts an approval dwm approve wrote, once; the next look finds nothing new", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const stored = writeApproval(x.setup.dir, approvalOf(x, "write"), OPERATOR.key);
    await x.desk.absorb();
    expect(x.log.state.gates.write?.state).toBe("approved");
    expect(x.log.activity.approvals).toEqual(["write"]);
    const seq = x.log.state.seq;
    await x.desk.absorb();
    expect(x.log.state.seq).toBe(seq);
    expect(stored.path).toBe("approvals/write/1.json");
  });

  it("an approval that can never count is journaled as refused, once, with its code: changed gate, other run, moved head", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const a = approvalOf(x, "write");
    writeApproval(x.setup.dir, { ...a, gate_digest: `sha256:${"a".repeat(64)}` }, OPERATOR.key);
    writeApproval(x.setup.dir, { ...a, run_id: "other-run-0123456789ab" }, OPERATOR.key);
    writeApproval(x.setup.dir, { ...a, integration_head: "f".repeat(40) }, OPERATOR.key);
    await x.desk.absorb();
    expect(x.log.activity.approvals).toEqual([]);
    expect(x.log.state.gates.write?.state).toBe("closed");
    expect(refusals(x)).toEqual([
      ["approvals/write/1.json", "ERR_GATE_STALE_DIGEST", OPERATOR.key.keyId],
      ["approvals/write/2.json", "ERR_GATE_FOREIGN_RUN", OPERATOR.key.keyId],
      ["approvals/write/3.json", "ERR_GATE_HEAD_MOVED", OPERATOR.key.keyId],
    ]);
    expect(x.notes()).toEqual([
      expect.stringMatching(/^approval approvals\/write\/1\.json refused: ERR_GATE_STALE_DIGEST /),
      expect.stringMatching(/^approval approvals\/write\/2\.json refused: ERR_GATE_FOREIGN_RUN /),
      expect.stringMatching(
        /^approval approvals\/write\/3\.json refused: ERR_GATE_HEAD_MOVED .*something was committed after the decision/,
      ),
    ]);
    const seq = x.log.state.seq;
    await x.desk.absorb();
    expect(x.log.state.seq).toBe(seq);
  });

  it("a forged, an unsigned and a stranger's approval are refused; the operator's then counts", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const a = approvalOf(x, "write");
    const dir = path.join(x.setup.dir, "approvals/write");
    fs.mkdirSync(dir, { recursive: true });
    const { key_id: _k, decided_by: _d, policy: _p, integration_head: _h, ...v1 } = a;
    fs.writeFileSync(path.join(dir, "1.json"), renderArtifact({ ...v1, schema_version: "1" }));
    const stranger = testOperatorKey(9);
    fs.writeFileSync(
      path.join(dir, "2.json"),
      renderArtifact(signApproval({ ...a, key_id: stranger.keyId }, stranger)),
    );
    const forged = signApproval({ ...a, key_id: stranger.keyId }, stranger);
    forged.dsseEnvelope.signatures[0].keyid = OPERATOR.key.keyId;
    forged.verificationMaterial.publicKey.hint = OPERATOR.key.keyId;
    fs.writeFileSync(path.join(dir, "3.json"), renderArtifact(forged));
    await x.desk.absorb();
    expect(refusals(x)).toEqual([
      ["approvals/write/1.json", "ERR_SIGNATURE_UNSIGNED", null],
      ["approvals/write/2.json", "ERR_SIGNATURE_KEY_UNTRUSTED", stranger.keyId],
      ["approvals/write/3.json", "ERR_SIGNATURE_INVALID", OPERATOR.key.keyId],
    ]);
    expect(x.log.state.gates.write?.state).toBe("closed");
    writeApproval(x.setup.dir, a, OPERATOR.key);
    await x.desk.absorb();
    expect(x.log.state.gates.write?.state).toBe("approved");
  });

  it("an approval bound to an integration head someone moved since is refused", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    writeApproval(x.setup.dir, approvalOf(x, "write"), OPERATOR.key);
    // Someone commits to the integration branch after the decision.
    const branch = integrationBranch(x.setup.runId);
    git(x.setup.repo, "branch", branch, x.setup.baseCommit);
    git(x.setup.repo, "commit", "-q", "--allow-empty", "-m", "after the approval");
    git(x.setup.repo, "branch", "-f", branch, "HEAD");
    await x.desk.absorb();
    expect(refusals(x)).toEqual([["approvals/write/1.json", "ERR_GATE_HEAD_MOVED", OPERATOR.key.keyId]]);
    expect(x.log.state.gates.write?.state).toBe("closed");
  });

  it("an approval already there when a human gate opens is refused (journaled, never counted); a risk gate's is kept", async () => {
    const x = await desk();
    x.log.observe(x.desk);
    const gates = new Map(x.setup.loaded.run.gates.map((g) => [g.gate_id, g.digest]));
    const planted = (gateId: string): Approval => ({
      ...approvalOf(x, "write"),
      gate_id: gateId,
      gate_digest: gates.get(gateId) as Approval["gate_digest"],
      reason: "planted",
    });
    writeApproval(x.setup.dir, planted("human-gate"), OPERATOR.key);
    writeApproval(x.setup.dir, planted("write"), OPERATOR.key);
    x.log.append([
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
    await x.desk.absorb();
    expect(refusals(x)).toEqual([["approvals/human-gate/1.json", "ERR_GATE_NOT_OPEN", OPERATOR.key.keyId]]);
    expect(x.notes()[0]).toMatch(
      /^approval approvals\/human-gate\/1\.json refused: ERR_GATE_NOT_OPEN it was there before gate human-gate opened/,
    );
    expect(x.log.state.gates["human-gate"]?.state).toBe("open");
    expect(x.log.activity.approvals).toEqual(["write"]);
    // The file stays where it was, named by its refusal.
    expect(fs.existsSync(path.join(x.setup.dir, "approvals/human-gate/1.json"))).toBe(true);
  });
});
