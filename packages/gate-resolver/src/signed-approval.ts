import {
  canonicalJson,
  openStatement,
  type SignatureProblem,
  type SigningKey,
  signStatement,
  type TrustedKey,
  type TrustStore,
} from "@dwm/core";
import type { Approval, InTotoStatement, InTotoSubject, SignedBundle } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { gateResolverErrors } from "./errors.js";

/** The in-toto predicate type of an approval or rejection (docs/attestations.md). */
export const APPROVAL_PREDICATE_TYPE = "https://dwm.dev/attestations/approval/v1";

/** Subject name of the integration head an approval was shown. */
export const INTEGRATION_HEAD_SUBJECT = "integration-head";

/** The subjects of an approval's statement: the gate by its digest, and the integration head it was shown. */
function approvalSubjects(approval: Approval): InTotoSubject[] {
  const out: InTotoSubject[] = [
    { name: `gate:${approval.gate_id}`, digest: { sha256: approval.gate_digest.slice("sha256:".length) } },
  ];
  if (approval.integration_head !== null)
    out.push({ name: INTEGRATION_HEAD_SUBJECT, digest: { gitCommit: approval.integration_head } });
  return out;
}

/** The in-toto statement of an approval: subjects gate and integration head, the approval as predicate. */
export function approvalStatement(approval: Approval): InTotoStatement {
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: approvalSubjects(approval) as InTotoStatement["subject"],
    predicateType: APPROVAL_PREDICATE_TYPE,
    predicate: approval,
  };
}

/** Sign an approval with the operator's key: its `key_id` must be that key's (else ERR_GATE_APPROVAL_INVALID). */
export function signApproval(approval: Approval, key: SigningKey): SignedBundle {
  if (approval.key_id !== key.keyId) {
    throw gateResolverErrors.create(
      "ERR_GATE_APPROVAL_INVALID",
      `the approval names key ${approval.key_id} but would be signed with ${key.keyId}`,
    );
  }
  const v = validateSchema("approval", approval);
  if (!v.ok) {
    throw gateResolverErrors.create(
      "ERR_GATE_APPROVAL_INVALID",
      "the approval does not match the approval schema",
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  return signStatement(approvalStatement(approval), key);
}

/** Why an approval file does not count before its gate is even looked at. */
export interface ApprovalProblem {
  code: SignatureProblem["code"] | "ERR_GATE_APPROVAL_INVALID";
  message: string;
  /** The key the file claims (null when it names none). */
  keyId: string | null;
}

/** An approval file read: its approval and trusted signer, or why it does not count. */
export type SignedApprovalReading =
  | { ok: true; approval: Approval; signer: TrustedKey }
  | { ok: false; problem: ApprovalProblem; approval: Approval | null };

/**
 * Read a signed approval: the bundle's signature must verify against a trusted key
 * (openStatement), its predicate be an approval naming that key, and its subjects be
 * exactly those the approval implies (gate digest, integration head). Pure.
 */
export function readSignedApproval(value: unknown, trust: TrustStore): SignedApprovalReading {
  const opened = openStatement(value, trust);
  if (!opened.ok) return { ok: false, problem: opened.problem, approval: null };
  const { statement, signer } = opened.value;
  const invalid = (message: string, approval: Approval | null = null): SignedApprovalReading => ({
    ok: false,
    problem: { code: "ERR_GATE_APPROVAL_INVALID", message, keyId: signer.keyId },
    approval,
  });
  if (statement.predicateType !== APPROVAL_PREDICATE_TYPE)
    return invalid(`the statement is a ${statement.predicateType}, not an approval`);
  const v = validateSchema("approval", statement.predicate);
  if (!v.ok)
    return invalid(`the signed approval does not match the approval schema: ${v.problems[0]?.message ?? ""}`);
  const approval = statement.predicate as Approval;
  if (approval.key_id !== signer.keyId)
    return invalid(`the approval names key ${approval.key_id} but is signed with ${signer.keyId}`, approval);
  if (canonicalJson(statement.subject) !== canonicalJson(approvalSubjects(approval)))
    return invalid(
      "the statement's subjects are not the approval's gate digest and integration head",
      approval,
    );
  return { ok: true, approval, signer };
}
