import { digest } from "@dwm/core";
import type { JournalEvent } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import {
  assuranceOf,
  evidenceFiles,
  packetAttestationPath,
  packetStatement,
  runStatement,
} from "./attestation.js";

const pass = { passed: true };
const fail = { passed: false };

describe("assuranceOf: from what DWM observed only", () => {
  it.each([
    [
      "a signed operator decision completed it",
      { checks: [], verdict: null, reviewerWorker: null, approvedByOperator: true },
      "approved",
    ],
    [
      "approved review, DWM's checks passed, a reviewer worker approved",
      { checks: [pass, pass], verdict: "approved", reviewerWorker: "approved", approvedByOperator: false },
      "reviewed",
    ],
    [
      "approved review, DWM's checks passed, no reviewer worker",
      { checks: [pass], verdict: "approved", reviewerWorker: null, approvedByOperator: false },
      "checked",
    ],
    [
      "a reviewer worker approved but DWM ran no check",
      { checks: [], verdict: "approved", reviewerWorker: "approved", approvedByOperator: false },
      "claimed",
    ],
    [
      "one of DWM's checks failed",
      { checks: [pass, fail], verdict: "approved", reviewerWorker: "approved", approvedByOperator: false },
      "claimed",
    ],
    [
      "the review did not approve",
      { checks: [pass], verdict: "needs-human", reviewerWorker: null, approvedByOperator: false },
      "claimed",
    ],
  ] as const)("%s → %s", (_what, o, level) => {
    expect(assuranceOf({ ...o, checks: [...o.checks] })).toBe(level);
  });
});

describe("statements", () => {
  const f = (path: string, d: string) => ({ path, digest: digest(d) });
  const events = [
    {
      seq: 3,
      type: "attempt.recorded",
      data: {
        packet_id: "a",
        attempt: 1,
        files: [f("attempts/a/1/stdout", "o"), f("attempts/a/1/attempt.json", "j")],
      },
    },
    {
      seq: 4,
      type: "packet.reviewed",
      data: { packet_id: "a", attempt: 1, files: [f("reviews/a/1.json", "r")] },
    },
    {
      seq: 5,
      type: "attempt.recorded",
      data: { packet_id: "b", attempt: 1, files: [f("attempts/b/1/stdout", "x")] },
    },
    { seq: 6, type: "handoff.registered", data: { from_packet: "a", files: [f("handoffs/h.json", "h")] } },
  ] as unknown as JournalEvent[];

  it("a packet's evidence: its attempt's files, its review, its handoffs, sorted; no other packet's", () => {
    expect(evidenceFiles(events, "a", 1).map((x) => x.path)).toEqual([
      "attempts/a/1/attempt.json",
      "attempts/a/1/stdout",
      "handoffs/h.json",
      "reviews/a/1.json",
    ]);
    expect(evidenceFiles(events, "a", 2)).toEqual([f("handoffs/h.json", "h")]);
  });

  it("a packet statement names the commit and every evidence file by digest; its predicate matches its schema", () => {
    const s = packetStatement({
      runId: "r-1",
      packetId: "a",
      packetDigest: digest("p"),
      attempt: 1,
      commit: "c".repeat(40),
      attemptRecord: null,
      review: null,
      approval: null,
      evidence: evidenceFiles(events, "a", 1),
    });
    expect(s.subject[0]).toEqual({ name: "commit", digest: { gitCommit: "c".repeat(40) } });
    expect(s.subject[1]).toEqual({
      name: "attempts/a/1/attempt.json",
      digest: { sha256: digest("j").slice(7) },
    });
    expect(s.predicateType).toBe("https://dwm.dev/attestations/packet/v1");
    expect(validateSchema("packet-attestation", s.predicate).problems).toEqual([]);
    expect(validateSchema("in-toto-statement", s).problems).toEqual([]);
    expect((s.predicate as { assurance: string }).assurance).toBe("claimed");
  });

  it("a packet completed without an attempt is attested by its canonical digest", () => {
    const s = packetStatement({
      runId: "r-1",
      packetId: "gate_only",
      packetDigest: digest("p"),
      attempt: 0,
      commit: null,
      attemptRecord: null,
      review: null,
      approval: null,
      evidence: [],
    });
    expect(s.subject).toEqual([{ name: "packet:gate_only", digest: { sha256: digest("p").slice(7) } }]);
  });

  it("a run statement's subject is the integration head, else run.json's bytes", () => {
    const run = { kind: "run", run_id: "r-1", plan_digest: digest("plan"), base_commit: null } as never;
    const head = runStatement({
      run,
      runFileDigest: digest("bytes"),
      integrationHead: "d".repeat(40),
      packets: [],
      approvals: [],
    });
    expect(head.subject).toEqual([{ name: "integration-head", digest: { gitCommit: "d".repeat(40) } }]);
    const none = runStatement({
      run,
      runFileDigest: digest("bytes"),
      integrationHead: null,
      packets: [],
      approvals: [],
    });
    expect(none.subject).toEqual([{ name: "run.json", digest: { sha256: digest("bytes").slice(7) } }]);
    expect(validateSchema("run-attestation", none.predicate).problems).toEqual([]);
  });
});

describe("packetAttestationPath", () => {
  it("one file per completion: a packet completing again with the same attempt gets the next one", () => {
    expect(packetAttestationPath("build", 2)).toBe("attestations/packets/build/2.json");
    expect(packetAttestationPath("accept", 0)).toBe("attestations/packets/accept/0.json");
    expect(packetAttestationPath("accept", 0, 2)).toBe("attestations/packets/accept/0-2.json");
  });
});
