import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadRun } from "@dwm/compiler";
import { digest, digestBytes, renderArtifact, writeArtifact } from "@dwm/core";
import { pendingApprovals, readSignedApproval, resolveGate } from "@dwm/gate-resolver";
import { foldJournal, openJournal, readJournal } from "@dwm/runtime";
import type { Approval, Review } from "@dwm/schemas";
import { SCHEMA_NAMES, validateSchema } from "@dwm/schemas";
import {
  FakeClock,
  git,
  makeGitRepo,
  makeTempDir,
  type TempDir,
  testOperatorKey,
  testTrust,
  writeTestOperatorConfig,
} from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "../test-support/operator.js";

// Until @dwm/plan-evaluator lands (it exports nothing yet), compile with a stand-in
// that activates the plan; these tests are about gates, not plan evaluation.
vi.mock("@dwm/plan-evaluator", async (load) => {
  const real = (await load()) as Record<string, unknown>;
  if (typeof real.evaluatePlan === "function") return real;
  const { digest: d } = await import("@dwm/core");
  return {
    ...real,
    evaluatePlan: (plan: { plan_id?: string; schema_version?: string }) => ({
      kind: "scorecard",
      schema_version: "1",
      valid: true,
      decision: "activate",
      downgrade_target: null,
      plan_id: plan.plan_id ?? null,
      plan_digest: d(plan),
      plan_schema_version: plan.schema_version ?? null,
      problems: [],
    }),
  };
});
/** `dwm verify` needs the scorecard schema, which comes with @dwm/plan-evaluator. */
const canVerify = (SCHEMA_NAMES as readonly string[]).includes("scorecard");

const PLAN = fileURLToPath(
  new URL("../../../../fixtures/compiler/plans/pipeline.workflow.plan.json", import.meta.url),
);

let repo: TempDir;
let runId: string;
let runDir: string;
const clock = new FakeClock("2026-04-01T09:00:00.000Z");

async function dwm(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd: repo.path, env: { PATH: process.env.PATH, ...operatorEnv(), ...env }, clock },
  );
  return { code, stdout, stderr };
}

beforeEach(async () => {
  repo = makeGitRepo({ "workflow.plan.json": fs.readFileSync(PLAN, "utf8") });
  trustOperator(repo.path);
  const r = await dwm(["compile", "workflow.plan.json", "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  runId = JSON.parse(r.stdout).run_id;
  runDir = path.join(repo.path, ".dwm/runs", runId);
});
afterEach(() => repo.cleanup());

/** Drive a packet through an attempt and a review with the given verdict (review file written, as the dispatcher would). */
function attemptAndReview(id: string, verdict: Review["verdict"], complete: boolean): void {
  const j = openJournal(runDir, { clock });
  try {
    const entry = j.run.packets.find((p) => p.packet_id === id);
    const n = (j.state.packets[id]?.attempts ?? 0) + 1;
    j.append("packet.dispatched", {
      packet_id: id,
      attempt: n,
      packet_digest: entry?.digest ?? digest(id),
      base_commit: null,
    });
    j.append("attempt.recorded", {
      packet_id: id,
      attempt: n,
      outcome: "ok",
      attempt_digest: digest(`${id}${n}`),
      files: [],
    });
    const review: Review = {
      kind: "review",
      schema_version: "1",
      reviewer_version: "0.1.0",
      run_id: runId,
      packet_id: id,
      packet_digest: entry?.digest ?? digest(id),
      attempt: n,
      attempt_digest: digest(`${id}${n}`),
      outcome: "ok",
      verdict,
      findings: [],
      checks: [],
      handoffs: [],
      diff: null,
      branch: null,
      head_commit: null,
      reviewer_worker: null,
      reviewed_at: clock.now(),
    };
    const rel = `reviews/${id}/${n}.json`;
    writeArtifact(path.join(runDir, rel), "review", review);
    j.append("packet.reviewed", {
      packet_id: id,
      attempt: n,
      verdict,
      review_digest: digest(review),
      files: [{ path: rel, digest: digestBytes(renderArtifact(review)) }],
    });
    if (complete) j.append("packet.completed", { packet_id: id, attempt: n });
  } finally {
    j.close();
  }
}

function openHumanGate(): void {
  for (const id of ["survey", "implement", "review"]) attemptAndReview(id, "approved", true);
  attemptAndReview("human_gate", "approved", false);
  const j = openJournal(runDir, { clock });
  try {
    const g = j.run.gates.find((x) => x.gate_id === "human-gate");
    j.append("gate.opened", {
      gate_id: "human-gate",
      gate_digest: g?.digest ?? digest(0),
      packets: ["human_gate"],
      reason: "ready",
    });
  } finally {
    j.close();
  }
}

const state = () =>
  foldJournal(readJournal(runDir).events, JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8")));

describe("dwm gates", () => {
  it("lists every gate with what it holds, its risk and safe default; --json validates", async () => {
    const r = await dwm(["gates", runId, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("gates-report", doc).problems).toEqual([]);
    const write = doc.gates.find((g: { gate_id: string }) => g.gate_id === "write");
    expect(write).toMatchObject({
      state: "closed",
      can_preapprove: true,
      category: "write",
      commands: [`dwm approve ${runId} write`, expect.any(String)],
    });
    const human = doc.gates.find((g: { gate_id: string }) => g.gate_id === "human-gate");
    expect(human).toMatchObject({
      state: "closed",
      waiting: false,
      can_preapprove: false,
      source: "human-gate-phase",
      commands: [],
    });
    openHumanGate();
    const after = JSON.parse((await dwm(["gates", runId, "--json"])).stdout);
    expect(after.gates[0]).toMatchObject({
      gate_id: "human-gate",
      state: "open",
      waiting: true,
      packets: [{ packet_id: "human_gate", state: "reviewed", attempts: 1 }],
    });
    expect(after.gates[0].evidence).toContain("reviews/human_gate/1.json");
    const text = await dwm(["gates", runId]);
    expect(text.stdout).toContain("WAITING  human-gate  [human-review, human-gate-phase]");
  });
});

describe("dwm approve / reject", () => {
  it("pre-approves a risk gate: the approval file is journaled and the run verifies", async () => {
    const r = await dwm(["approve", runId, "write", "--reason", "writes are fine here", "--json"], {});
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("gate-decision", doc).problems).toEqual([]);
    expect(doc).toMatchObject({
      gate_id: "write",
      decision: "approve",
      approval_path: "approvals/write/1.json",
      journaled: true,
      events: ["gate.approved"],
    });
    expect(doc.approval.approver).toEqual({ name: "DWM Test <test@dwm.invalid>", source: "git" });
    expect(state().gates.write).toMatchObject({ state: "approved", approval_digest: digest(doc.approval) });
    if (canVerify) expect((await dwm(["verify", runId])).code).toBe(0);
    const again = await dwm(["approve", runId, "write"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("ERR_GATE_ALREADY_DECIDED");
  });

  it("a human gate is refused until open, then its approval completes the packet", async () => {
    const early = await dwm(["approve", runId, "human-gate"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("ERR_GATE_NOT_OPEN");
    expect(fs.existsSync(path.join(runDir, "approvals"))).toBe(false);
    openHumanGate();
    const r = await dwm(["approve", runId, "human-gate", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).events).toEqual(["gate.approved", "packet.completed"]);
    expect(state().packets.human_gate?.state).toBe("completed");
    if (canVerify) expect((await dwm(["verify", runId])).code).toBe(0);
  });

  it("a failure to attest after the decision is journaled is a warning, not a failure: exit 0, the packet completed", async () => {
    openHumanGate();
    // A directory where the human gate packet's attestation goes: writing it fails (EISDIR), as a
    // full disk or a permission would, after gate.approved and packet.completed are journaled.
    const inTheWay = path.join(runDir, "attestations/packets/human_gate/1.json");
    fs.mkdirSync(inTheWay, { recursive: true });
    const r = await dwm(["approve", runId, "human-gate", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      journaled: true,
      events: ["gate.approved", "packet.completed"],
    });
    expect(r.stderr).toMatch(
      /^warning: the decision is journaled, but .*not attested \(ERR_FS_WRONG_KIND: /m,
    );
    expect(state().packets.human_gate?.state).toBe("completed");
    fs.rmdirSync(inTheWay);
  });

  it("reject sends packets back with the reason; the gate is not asked again until they complete", async () => {
    openHumanGate();
    const noReason = await dwm(["reject", runId, "human-gate", "--packets", "implement"]);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain("ERR_GATE_REASON_REQUIRED");
    const r = await dwm([
      "reject",
      runId,
      "human-gate",
      "--reason",
      "the migration is missing",
      "--packets",
      "implement",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.events).toEqual(["gate.rejected", "packet.reopened", "packet.reopened", "packet.reopened"]);
    const s = state();
    expect(["survey", "implement", "review", "human_gate"].map((id) => s.packets[id]?.state)).toEqual([
      "completed",
      "pending",
      "pending",
      "pending",
    ]);
    expect(s.packets.implement?.reason).toBe("gate human-gate rejected: the migration is missing");
    const too_early = await dwm(["approve", runId, "human-gate"]);
    expect(too_early.stderr).toContain("ERR_GATE_NOT_OPEN");
    if (canVerify) expect((await dwm(["verify", runId])).code).toBe(0);
  });

  it("refuses inside a DWM worker's environment", async () => {
    const r = await dwm(["approve", runId, "write"], { DWM_ATTEMPT: "1", DWM_WORKER_ID: "builder" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ERR_GATE_APPROVER_IS_WORKER");
    expect(fs.existsSync(path.join(runDir, "approvals"))).toBe(false);
  });

  it("while a runner holds the lock: the approval waits as a file that counts only once the runner journals it", async () => {
    const runner = openJournal(runDir, { clock });
    try {
      const r = await dwm(["approve", runId, "write", "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        journaled: false,
        events: [],
        approval_path: "approvals/write/1.json",
      });
      expect(runner.state.gates.write?.state).toBe("closed");
      // Until journaled it is a pending approval for verify (repairable: the runner journals it
      // or refuses it), and counts for nothing.
      if (canVerify) {
        const v = await dwm(["verify", runId, "--json"]);
        expect(v.code).toBe(3);
        expect(
          JSON.parse(v.stdout).problems.map(
            (p: { code: string; file: string; repairable: boolean }) => `${p.code} ${p.file} ${p.repairable}`,
          ),
        ).toEqual(["ERR_VERIFY_PENDING_APPROVAL approvals/write/1.json true"]);
      }
      // The runner picks it up: checks it again and journals it.
      const trust = testTrust();
      const pending = pendingApprovals(runDir, readJournal(runDir).events, trust);
      expect(pending.map((p) => [p.path, p.signer?.keyId, p.problem])).toEqual([
        ["approvals/write/1.json", testOperatorKey().keyId, null],
      ]);
      const p = pending[0] as { approval: Approval; path: string; digest: string };
      // Nothing merged yet: the head it was shown is the run's base commit.
      expect(p.approval.integration_head).toBe(git(repo.path, "rev-parse", "HEAD"));
      const { events } = resolveGate(runner.state, p.approval, loadRun(runDir), {
        approvalPath: p.path,
        approvalDigest: p.digest,
        integrationHead: p.approval.integration_head,
      });
      runner.appendAll(events);
      expect(runner.state.gates.write?.state).toBe("approved");
      expect(pendingApprovals(runDir, readJournal(runDir).events, trust)).toEqual([]);
    } finally {
      runner.close();
    }
  });

  it("signs with the operator's key: none is ERR_KEY_MISSING, one the repository does not trust is ERR_KEY_UNTRUSTED; nothing is written", async () => {
    const empty = makeTempDir("dwm-no-key-");
    const stranger = makeTempDir("dwm-stranger-");
    try {
      const none = await dwm(["approve", runId, "write", "--json"], { DWM_CONFIG_DIR: empty.path });
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("error ERR_KEY_MISSING:");
      writeTestOperatorConfig(stranger.path, testOperatorKey(4));
      const untrusted = await dwm(["approve", runId, "write", "--json"], { DWM_CONFIG_DIR: stranger.path });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toContain(
        `error ERR_KEY_UNTRUSTED: your operator key ${testOperatorKey(4).keyId}`,
      );
      expect(untrusted.stderr).toContain("hint: Run `dwm keys trust`");
      expect(fs.existsSync(path.join(runDir, "approvals"))).toBe(false);
    } finally {
      empty.cleanup();
      stranger.cleanup();
    }
  });

  it("the approval file is a Sigstore bundle of an in-toto statement naming the gate digest and the integration head", async () => {
    const r = await dwm(["approve", runId, "write", "--reason", "ok", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const bundle = JSON.parse(fs.readFileSync(path.join(runDir, doc.approval_path), "utf8"));
    expect(bundle.mediaType).toBe("application/vnd.dev.sigstore.bundle.v0.3+json");
    const read = readSignedApproval(bundle, testTrust());
    expect(read).toMatchObject({ ok: true, approval: doc.approval });
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString("utf8"));
    const gateDigest = loadRun(runDir).run.gates.find((g) => g.gate_id === "write")?.digest ?? "";
    expect(statement.subject).toEqual([
      { name: "gate:write", digest: { sha256: gateDigest.slice("sha256:".length) } },
      { name: "integration-head", digest: { gitCommit: git(repo.path, "rev-parse", "HEAD") } },
    ]);
    expect(doc.approval).toMatchObject({
      key_id: testOperatorKey().keyId,
      decided_by: "operator",
      policy: null,
    });
  });
});
