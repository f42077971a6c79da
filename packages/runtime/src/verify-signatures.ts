import fs from "node:fs";
import path from "node:path";
import {
  digest,
  digestBytes,
  isDwmError,
  type OpenedStatement,
  openStatement,
  readTrustStore,
  resolveInside,
  type TrustStore,
} from "@dwm/core";
import type { Approval, JournalEvent, SignatureCheck, VerifyProblem } from "@dwm/schemas";

/** Predicate types of what DWM signs (docs/attestations.md). */
const PREDICATE = {
  approval: "https://dwm.dev/attestations/approval/v1",
  packet: "https://dwm.dev/attestations/packet/v1",
  run: "https://dwm.dev/attestations/run/v1",
} as const;

/** What verification of a run's signatures found: its problems, and one line per signed file. */
export interface SignatureReport {
  problems: VerifyProblem[];
  signatures: SignatureCheck[];
}

/**
 * The keys a run store's signatures are checked against: `trust` when given, else the
 * dwm.operators.json of the repository the run store lies in (none: no key is trusted).
 */
export function trustFor(runDir: string, trust?: TrustStore): TrustStore {
  if (trust) return trust;
  let dir = path.resolve(runDir);
  for (;;) {
    if (fs.existsSync(path.join(dir, ".git"))) return readTrustStore(dir);
    const up = path.dirname(dir);
    if (up === dir) return new Map();
    dir = up;
  }
}

/** For each run-store path, the seq of the last event that (re)wrote it: files named, or run.json by a recompile. */
function lastWritten(events: readonly JournalEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) {
    const files = (e.data as { files?: { path?: unknown }[] }).files ?? [];
    for (const f of files) if (typeof f.path === "string") out.set(f.path, e.seq);
    if (e.type === "run.recompiled") out.set("run.json", e.seq);
  }
  return out;
}

class SignatureChecker {
  readonly problems: VerifyProblem[] = [];
  readonly signatures: SignatureCheck[] = [];
  constructor(
    private readonly runDir: string,
    private readonly trust: TrustStore,
    private readonly written: ReadonlyMap<string, number>,
  ) {}

  private bad(
    file: string,
    kind: SignatureCheck["kind"],
    keyId: string | null,
    message: string,
    seq: number,
  ): null {
    this.signatures.push({ file, kind, key_id: keyId, signer: null, status: "bad", detail: message });
    this.problems.push({
      code: "ERR_VERIFY_SIGNATURE",
      file,
      message: `${file}: ${message}`,
      repairable: false,
      seq,
    });
    return null;
  }

  /** A signed file's statement when its signature verifies against a trusted key; else the key it names and why not. */
  private tryOpen(
    file: string,
  ): { ok: true; value: OpenedStatement } | { ok: false; keyId: string | null; why: string } {
    let value: unknown;
    try {
      value = JSON.parse(fs.readFileSync(resolveInside(this.runDir, file, "signed file"), "utf8"));
    } catch (e) {
      // A missing or unreadable file is the file check's problem; say here only that it is not signed.
      return {
        ok: false,
        keyId: null,
        why: `not a signed bundle (${isDwmError(e) ? e.code : "unreadable"})`,
      };
    }
    const r = openStatement(value, this.trust);
    if (!r.ok) return { ok: false, keyId: r.problem.keyId, why: `${r.problem.code}: ${r.problem.message}` };
    return { ok: true, value: r.value };
  }

  /** A signed file's statement, when its signature verifies against a trusted key; else null after reporting why. */
  open(file: string, kind: SignatureCheck["kind"], seq: number): OpenedStatement | null {
    const r = this.tryOpen(file);
    return r.ok ? r.value : this.bad(file, kind, r.keyId, r.why, seq);
  }

  good(file: string, kind: SignatureCheck["kind"], o: OpenedStatement, detail: string): void {
    this.signatures.push({
      file,
      kind,
      key_id: o.signer.keyId,
      signer: o.signer.name,
      status: "good",
      detail,
    });
  }

  /** A counted decision: signed by a trusted key, and the approval the journal recorded, field for field. */
  decision(e: Extract<JournalEvent, { type: "gate.approved" | "gate.rejected" }>): void {
    const file = e.data.files[0]?.path;
    if (file === undefined) return;
    const o = this.open(file, "approval", e.seq);
    if (o === null) return;
    const a = o.statement.predicate as Partial<Approval>;
    if (o.statement.predicateType !== PREDICATE.approval || digest(a) !== e.data.approval_digest) {
      this.bad(
        file,
        "approval",
        o.signer.keyId,
        `the signed statement is not the approval event ${e.seq} recorded`,
        e.seq,
      );
    } else if (
      a.key_id !== o.signer.keyId ||
      a.gate_id !== e.data.gate_id ||
      a.gate_digest !== e.data.gate_digest
    ) {
      this.bad(
        file,
        "approval",
        o.signer.keyId,
        `the approval's key, gate or gate digest is not what it was counted for`,
        e.seq,
      );
    } else
      this.good(
        file,
        "approval",
        o,
        `${a.decision} of gate ${a.gate_id} (${a.decided_by}${a.policy ? `: ${a.policy}` : ""})`,
      );
  }

  /**
   * A refused approval is named, never counted. One whose signature does not hold (a forgery, or
   * a stranger's key) is no problem either: the runner refused it and the journal records it
   * with its digest (the file check holds it to that), so it is evidence on record of a refused
   * forgery, which nothing can remove and nothing counts; its signer is null.
   */
  refused(e: Extract<JournalEvent, { type: "approval.refused" }>): void {
    const file = e.data.path;
    const r = this.tryOpen(file);
    if (!r.ok) {
      this.signatures.push({
        file,
        kind: "refused-approval",
        key_id: r.keyId,
        signer: null,
        status: "refused",
        detail: `refused at event ${e.seq}: ${e.data.code} ${e.data.reason}; its signature does not hold (${r.why})`,
      });
      return;
    }
    const o = r.value;
    this.signatures.push({
      file,
      kind: "refused-approval",
      key_id: o.signer.keyId,
      signer: o.signer.name,
      status: "refused",
      detail: `refused at event ${e.seq}: ${e.data.code} ${e.data.reason}`,
    });
  }

  /** An attestation: a trusted signature over the statement the journal recorded, and every file subject as it is now. */
  attestation(e: Extract<JournalEvent, { type: "attestation.recorded" }>): void {
    const file = e.data.files[0]?.path;
    if (file === undefined) return;
    const kind = e.data.subject === "run" ? "run-attestation" : "packet-attestation";
    const o = this.open(file, kind, e.seq);
    if (o === null) return;
    const type = e.data.subject === "run" ? PREDICATE.run : PREDICATE.packet;
    if (
      o.statement.predicateType !== type ||
      digest(o.statement) !== e.data.statement_digest ||
      o.signer.keyId !== e.data.key_id
    ) {
      this.bad(
        file,
        kind,
        o.signer.keyId,
        `the signed statement is not the attestation event ${e.seq} recorded`,
        e.seq,
      );
      return;
    }
    for (const s of o.statement.subject) {
      // Names with a colon (gate:…, packet:…) are artifacts by canonical digest, not files. A file the
      // journal wrote again after the attestation (a reworked handoff, a recompiled run.json) is a later one's.
      if (s.digest.sha256 === undefined || s.name.includes(":") || (this.written.get(s.name) ?? 0) > e.seq)
        continue;
      const actual = this.sha256Of(s.name);
      if (actual !== s.digest.sha256) {
        this.bad(
          file,
          kind,
          o.signer.keyId,
          `${s.name} is not the file it attests (sha256 ${s.digest.sha256}, now ${actual ?? "missing"})`,
          e.seq,
        );
        return;
      }
    }
    const what =
      e.data.subject === "run"
        ? "the run"
        : `packet ${e.data.packet_id} attempt ${e.data.attempt} (${e.data.assurance})`;
    this.good(file, kind, o, `${what}: ${o.statement.subject.length} subject(s)`);
  }

  private sha256Of(rel: string): string | null {
    try {
      return digestBytes(fs.readFileSync(resolveInside(this.runDir, rel, "attested file"))).slice(
        "sha256:".length,
      );
    } catch {
      return null;
    }
  }

  /** Completed packets and a completed run without a signed attestation: evidence nobody vouched for. */
  unattested(events: readonly JournalEvent[]): void {
    const attested = new Set<string>();
    let runAttested = false;
    for (const e of events) {
      if (e.type !== "attestation.recorded") continue;
      if (e.data.subject === "run") runAttested = true;
      else attested.add(`${e.data.packet_id}#${e.data.attempt}`);
    }
    const done = new Map<string, number>();
    for (const e of events)
      if (e.type === "packet.completed") done.set(`${e.data.packet_id}#${e.data.attempt}`, e.seq);
    for (const [key, seq] of done) {
      if (attested.has(key)) continue;
      const [id, n] = key.split("#");
      this.problems.push({
        code: "ERR_VERIFY_UNATTESTED",
        file: `attestations/packets/${id}/${n}.json`,
        message: `packet ${id} completed (event ${seq}) but no signed attestation of attempt ${n} is recorded`,
        repairable: false,
        seq,
      });
    }
    const completed = events.findLast((e) => e.type === "run.completed");
    if (completed && !runAttested) {
      this.problems.push({
        code: "ERR_VERIFY_UNATTESTED",
        file: "attestations/run/1.json",
        message: `the run completed (event ${completed.seq}) but no signed run attestation is recorded`,
        repairable: false,
        seq: completed.seq,
      });
    }
  }
}

/**
 * Check every signature a run's journal relies on, against the trusted operator keys:
 * each counted approval (signed by a trusted key, the very approval the journal recorded),
 * each refused approval (a bad signature is a problem; a good one is named), each attestation
 * (signed, the statement the journal recorded, every file subject's sha256 as it is now), and
 * that every completed packet and a completed run carry one. Read-only.
 */
export function verifySignatures(
  runDir: string,
  events: readonly JournalEvent[],
  trust: TrustStore,
  /** Files a crash leftover wrote again after the journal last named them (a reworked handoff not registered yet). */
  rewritten: ReadonlySet<string> = new Set(),
): SignatureReport {
  const written = lastWritten(events);
  // Every attestation of such a file names the bytes before it: a later event will name the new ones.
  for (const f of rewritten) written.set(f, Number.POSITIVE_INFINITY);
  const c = new SignatureChecker(path.resolve(runDir), trust, written);
  for (const e of events) {
    if (e.type === "gate.approved" || e.type === "gate.rejected") c.decision(e);
    else if (e.type === "approval.refused") c.refused(e);
    else if (e.type === "attestation.recorded") c.attestation(e);
  }
  c.unattested(events);
  return { problems: c.problems, signatures: c.signatures };
}
