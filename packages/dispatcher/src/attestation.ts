import { digest } from "@dwm/core";
import type {
  Attempt,
  InTotoStatement,
  InTotoSubject,
  JournalEvent,
  PacketAttestation,
  Review,
  Run,
  RunAttestation,
} from "@dwm/schemas";

/** Predicate type of a packet attestation (docs/attestations.md). */
export const PACKET_PREDICATE_TYPE = "https://dwm.dev/attestations/packet/v1";
/** Predicate type of a run attestation. */
export const RUN_PREDICATE_TYPE = "https://dwm.dev/attestations/run/v1";

/**
 * Where the attestation of a packet's completing attempt lies in the run store. A packet that
 * completes again with the same attempt number (a gate phase without work, approved again after
 * its gate was reopened) gets the k-th file, `<attempt>-<k>.json`, so no attestation is overwritten.
 */
export function packetAttestationPath(packetId: string, attempt: number, k = 1): string {
  return `attestations/packets/${packetId}/${attempt}${k > 1 ? `-${k}` : ""}.json`;
}

/** Where the n-th run attestation lies (a run completed again after a recompile gets another). */
export function runAttestationPath(n: number): string {
  return `attestations/run/${n}.json`;
}

/**
 * The assurance level of a completed packet, from what DWM observed only (docs/attestations.md):
 * approved — a signed operator decision (not a policy) completed it; reviewed — DWM's review
 * approved it, every check DWM ran passed (at least one), and an independent reviewer worker
 * approved it too; checked — the same without the reviewer worker; claimed — anything less
 * (the worker's output is all there is).
 */
export function assuranceOf(o: {
  checks: readonly { passed: boolean }[];
  verdict: string | null;
  reviewerWorker: string | null;
  approvedByOperator: boolean;
}): PacketAttestation["assurance"] {
  if (o.approvedByOperator) return "approved";
  const checked = o.verdict === "approved" && o.checks.length > 0 && o.checks.every((c) => c.passed);
  if (!checked) return "claimed";
  return o.reviewerWorker === "approved" ? "reviewed" : "checked";
}

/** Evidence files the journal names for a packet's attempt: its record, its review, the handoffs it registered. */
export function evidenceFiles(
  events: readonly JournalEvent[],
  packetId: string,
  attempt: number,
): { path: string; digest: string }[] {
  const out = new Map<string, string>();
  for (const e of events) {
    const mine =
      ((e.type === "attempt.recorded" || e.type === "packet.reviewed") &&
        e.data.packet_id === packetId &&
        e.data.attempt === attempt) ||
      (e.type === "handoff.registered" && e.data.from_packet === packetId);
    if (!mine) continue;
    for (const f of e.data.files) out.set(f.path, f.digest);
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, d]) => ({ path: p, digest: d }));
}

/** What a packet attestation is made from: the completion, its attempt and review (if any), the decision that completed it. */
export interface PacketFacts {
  runId: string;
  packetId: string;
  packetDigest: string | null;
  attempt: number;
  commit: string | null;
  attemptRecord: Attempt | null;
  review: { value: Review; digest: string } | null;
  approval: PacketAttestation["approval"];
  evidence: readonly { path: string; digest: string }[];
}

function subjectsOf(
  commit: string | null,
  evidence: readonly { path: string; digest: string }[],
): InTotoSubject[] {
  return [
    ...(commit === null ? [] : [{ name: "commit", digest: { gitCommit: commit } }]),
    ...evidence.map((f) => ({ name: f.path, digest: { sha256: f.digest.slice("sha256:".length) } })),
  ];
}

/** The in-toto statement of a completed packet: subjects its commit and evidence files, predicate what DWM observed. */
export function packetStatement(f: PacketFacts): InTotoStatement {
  const a = f.attemptRecord;
  const checks = (a?.checks ?? []).map((c) => ({
    id: c.id,
    kind: c.kind,
    exit_code: c.exit_code,
    passed: c.passed,
  }));
  const review = f.review;
  const reviewerWorker = review?.value.reviewer_worker?.verdict ?? null;
  const predicate: PacketAttestation = {
    kind: "packet-attestation",
    schema_version: "1",
    run_id: f.runId,
    packet_id: f.packetId,
    packet_digest: f.packetDigest as PacketAttestation["packet_digest"],
    attempt: f.attempt,
    commit: f.commit,
    outcome: a?.outcome ?? null,
    executor_version: a?.executor_version ?? null,
    invocations: (a?.invocations ?? []).map((i) => ({
      worker_id: i.worker_id,
      backend: i.backend,
      argv_digest: digest(i.argv) as PacketAttestation["invocations"][number]["argv_digest"],
      exit_code: i.exit_code,
    })),
    checks,
    review:
      review === null
        ? null
        : {
            verdict: review.value.verdict,
            review_digest: review.digest as NonNullable<PacketAttestation["review"]>["review_digest"],
            reviewer_version: review.value.reviewer_version,
            reviewer_worker: reviewerWorker,
          },
    approval: f.approval,
    assurance: assuranceOf({
      checks,
      verdict: review?.value.verdict ?? null,
      reviewerWorker,
      approvedByOperator: f.approval?.decided_by === "operator",
    }),
  };
  const subject = subjectsOf(f.commit, f.evidence);
  // A packet a gate completed without any attempt has neither commit nor evidence: the packet itself is the subject.
  if (subject.length === 0 && f.packetDigest)
    subject.push({
      name: `packet:${f.packetId}`,
      digest: { sha256: f.packetDigest.slice("sha256:".length) },
    });
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: subject as InTotoStatement["subject"],
    predicateType: PACKET_PREDICATE_TYPE,
    predicate,
  };
}

/** The in-toto statement of a completed run: subject its integration head (else run.json), predicate every packet attestation and approval by digest. */
export function runStatement(input: {
  run: Run;
  /** sha256 of run.json's bytes: the subject when nothing was merged. */
  runFileDigest: string;
  integrationHead: string | null;
  packets: RunAttestation["packets"];
  approvals: RunAttestation["approvals"];
}): InTotoStatement {
  const runDigest = digest(input.run);
  const predicate: RunAttestation = {
    kind: "run-attestation",
    schema_version: "1",
    run_id: input.run.run_id,
    run_digest: runDigest as RunAttestation["run_digest"],
    plan_digest: input.run.plan_digest,
    base_commit: input.run.base_commit,
    integration_head: input.integrationHead,
    packets: input.packets,
    approvals: input.approvals,
  };
  const subject: InTotoSubject =
    input.integrationHead === null
      ? { name: "run.json", digest: { sha256: input.runFileDigest.slice("sha256:".length) } }
      : { name: "integration-head", digest: { gitCommit: input.integrationHead } };
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: [subject],
    predicateType: RUN_PREDICATE_TYPE,
    predicate,
  };
}
