// Signed files as the runner and `dwm approve` write them, made by hand with the test operator's key.
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact, signStatement } from "@dwm/core";
import type { Approval, InTotoStatement } from "@dwm/schemas";
import { testOperatorKey, testTrust } from "@dwm/test-utils";
import type { Journal } from "../journal.js";
import type { TestRunStore } from "./run-store.js";

/** The trusted keys of these tests: the test operator's. */
export const TRUST = testTrust();
const KEY = testOperatorKey();

const hex = (d: string) => d.slice("sha256:".length);

/** A signed approval of `gateId` at `gateDigest`, written at `rel`; its file ref and approval digest. */
export function putSignedApproval(store: TestRunStore, rel: string, gateId: string, gateDigest: string) {
  const approval: Approval = {
    kind: "approval",
    schema_version: "2",
    run_id: store.run.run_id,
    gate_id: gateId,
    gate_digest: gateDigest,
    integration_head: null,
    decision: "approve",
    reason: "",
    packets: [],
    approver: { name: "Test Operator", source: "os-user" },
    key_id: KEY.keyId,
    decided_by: "operator",
    policy: null,
    at: "2026-01-01T00:00:00.000Z",
  };
  const statement: InTotoStatement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: `gate:${gateId}`, digest: { sha256: hex(gateDigest) } }],
    predicateType: "https://dwm.dev/attestations/approval/v1",
    predicate: approval,
  };
  const file = store.putFile(rel, renderArtifact(signStatement(statement, KEY)));
  return { file, approvalDigest: digest(approval) };
}

/** A signed bundle of `predicate` (of `predicateType`) by `key` (default: the trusted test operator), rendered as the attestor writes it. */
export function signedText(predicateType: string, predicate: Record<string, unknown>, key = KEY): string {
  const statement: InTotoStatement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: "run.json", digest: { sha256: "0".repeat(64) } }],
    predicateType,
    predicate,
  };
  return renderArtifact(signStatement(statement, key));
}

/** Journal a signed attestation of packet `id`'s attempt `n` over `evidence` (as the runner's attestor does). */
export function attestPacket(
  j: Journal,
  store: TestRunStore,
  id: string,
  n: number,
  evidence: readonly { path: string; digest: string }[],
): void {
  const statement: InTotoStatement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: evidence.map((f) => ({
      name: f.path,
      digest: { sha256: hex(f.digest) },
    })) as InTotoStatement["subject"],
    predicateType: "https://dwm.dev/attestations/packet/v1",
    predicate: { kind: "packet-attestation", packet_id: id, attempt: n, assurance: "claimed" },
  };
  const file = store.putFile(
    `attestations/packets/${id}/${n}.json`,
    renderArtifact(signStatement(statement, KEY)),
  );
  j.append("attestation.recorded", {
    subject: "packet",
    packet_id: id,
    attempt: n,
    assurance: "claimed",
    statement_digest: digest(statement),
    key_id: KEY.keyId,
    files: [file],
  });
}

/** Journal a signed attestation of the run (its run.json as subject), as the runner does before run.completed. */
export function attestRun(j: Journal, store: TestRunStore, n = 1): void {
  const runFile = digestBytes(fs.readFileSync(path.join(store.runDir, "run.json")));
  const statement: InTotoStatement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: "run.json", digest: { sha256: hex(runFile) } }],
    predicateType: "https://dwm.dev/attestations/run/v1",
    predicate: { kind: "run-attestation", run_id: store.run.run_id },
  };
  const file = store.putFile(`attestations/run/${n}.json`, renderArtifact(signStatement(statement, KEY)));
  j.append("attestation.recorded", {
    subject: "run",
    statement_digest: digest(statement),
    key_id: KEY.keyId,
    files: [file],
  });
}
