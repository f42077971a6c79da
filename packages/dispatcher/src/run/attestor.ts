import fs from "node:fs";
import path from "node:path";
import {
  digest,
  digestBytes,
  readArtifact,
  renderArtifact,
  resolveInside,
  type SigningKey,
  signStatement,
  type TrustStore,
  writeFileAtomic,
} from "@dwm/core";
import { readSignedApproval } from "@dwm/gate-resolver";
import { type EventDraft, type Journal, readJournal } from "@dwm/runtime";
import type {
  Attempt,
  InTotoStatement,
  JournalEvent,
  PacketAttestation,
  Review,
  Run,
  RunAttestation,
  RunState,
} from "@dwm/schemas";
import {
  evidenceFiles,
  type PacketFacts,
  packetAttestationPath,
  packetStatement,
  runAttestationPath,
  runStatement,
} from "../attestation.js";
import type { RunContext } from "./context.js";
import type { EventObserver } from "./run-log.js";

type FileRef = { path: string; digest: string };
type Decision = { gateId: string; file: FileRef; approvalDigest: string };

/**
 * The attestor: signs, with the operator's key, an in-toto attestation of every completed packet
 * (its commit and evidence files by digest, what DWM observed, the assurance level) and one of
 * the run when it completes (its integration head, every packet attestation and approval by
 * digest), writes each under attestations/ and journals it (attestation.recorded). A packet
 * completed but not yet attested when a runner died is attested by the next one.
 */
export class Attestor implements EventObserver {
  // Journal events about each packet (attempt records, reviews, handoffs), to name its evidence.
  private readonly byPacket = new Map<string, JournalEvent[]>();
  private readonly approvals: {
    gateId: string;
    decision: "approve" | "reject";
    file: FileRef;
    approvalDigest: string;
  }[] = [];
  private readonly attested = new Map<string, PacketAttestationRef>();
  private readonly due = new Map<
    string,
    { packetId: string; attempt: number; commit: string | null; by: Decision | null }
  >();
  private runAttestations = 0;
  // Attestations journaled per packet and attempt: a packet completing again with the same attempt gets a file of its own.
  private readonly attestations = new Map<string, number>();
  // The gate.approved whose completions follow it in the same batch (a human gate completing its packet).
  private deciding: Decision | null = null;

  constructor(private readonly host: AttestorHost) {}

  /** The journal as this runner opened it: what was attested, and what completed without an attestation. */
  noteHistory(events: readonly JournalEvent[]): void {
    for (const e of events) this.noteEvent(e);
  }

  noteEvent(e: JournalEvent): void {
    this.indexEvidence(e);
    this.trackDecision(e);
    if (e.type === "packet.completed") {
      const { packet_id: packetId, attempt } = e.data;
      this.due.set(`${packetId}#${attempt}`, {
        packetId,
        attempt,
        commit: e.data.commit ?? null,
        by: this.deciding,
      });
    } else if (e.type === "attestation.recorded") this.noteAttested(e.data);
  }

  /** Attempt records, reviews and handoffs by packet (its evidence); decisions with their files. */
  private indexEvidence(e: JournalEvent): void {
    if (e.type === "attempt.recorded" || e.type === "packet.reviewed" || e.type === "handoff.registered") {
      const id = e.type === "handoff.registered" ? e.data.from_packet : e.data.packet_id;
      this.byPacket.set(id, [...(this.byPacket.get(id) ?? []), e]);
    } else if (e.type === "gate.approved" || e.type === "gate.rejected") {
      const file = e.data.files[0];
      const decision = e.type === "gate.approved" ? "approve" : "reject";
      if (file)
        this.approvals.push({
          gateId: e.data.gate_id,
          decision,
          file,
          approvalDigest: e.data.approval_digest,
        });
    }
  }

  /** An attestation journaled: a packet's is no longer due; a run's counts for the next one's number. */
  private noteAttested(d: Extract<JournalEvent, { type: "attestation.recorded" }>["data"]): void {
    if (d.subject === "run") {
      this.runAttestations++;
      return;
    }
    const file = d.files[0];
    if (d.packet_id === undefined || !file) return;
    const attempt = d.attempt ?? 0;
    const key = `${d.packet_id}#${attempt}`;
    this.due.delete(key);
    this.attestations.set(key, (this.attestations.get(key) ?? 0) + 1);
    this.attested.set(d.packet_id, {
      attempt,
      file,
      statementDigest: d.statement_digest,
      assurance: d.assurance ?? "claimed",
    });
  }

  /** gate.approved, then its handoffs and completions: the completions were decided by it. */
  private trackDecision(e: JournalEvent): void {
    if (e.type === "gate.approved") {
      const file = e.data.files[0];
      this.deciding = file ? { gateId: e.data.gate_id, file, approvalDigest: e.data.approval_digest } : null;
    } else if (e.type !== "handoff.registered" && e.type !== "packet.completed") this.deciding = null;
  }

  /** Sign and journal the attestation of every packet completed since the last call. */
  attestCompleted(): void {
    for (const d of [...this.due.values()]) this.attestPacket(d.packetId, d.attempt, d.commit, d.by);
  }

  private facts(packetId: string, attempt: number, commit: string | null, by: Decision | null): PacketFacts {
    const h = this.host;
    const events = this.byPacket.get(packetId) ?? [];
    const recorded = events.findLast((e) => e.type === "attempt.recorded" && e.data.attempt === attempt);
    const reviewed = events.findLast((e) => e.type === "packet.reviewed" && e.data.attempt === attempt);
    // The attempt record the journal names (an attempt without one, such as a gate's, has none).
    const recordRel = `attempts/${packetId}/${attempt}/attempt.json`;
    const attemptRecord =
      recorded?.type === "attempt.recorded" && recorded.data.files.some((f) => f.path === recordRel)
        ? readArtifact<Attempt>(path.join(h.dir, recordRel), "attempt", {
            expectDigest: recorded.data.attempt_digest,
          }).value
        : null;
    const reviewFile = reviewed?.type === "packet.reviewed" ? reviewed.data.files[0] : undefined;
    const review =
      reviewed?.type === "packet.reviewed" && reviewFile
        ? {
            value: readArtifact<Review>(path.join(h.dir, reviewFile.path), "review", {
              expectDigest: reviewed.data.review_digest,
            }).value,
            digest: reviewed.data.review_digest,
          }
        : null;
    return {
      runId: h.run.run_id,
      packetId,
      packetDigest:
        h.state().packets[packetId]?.packet_digest ??
        h.run.packets.find((p) => p.packet_id === packetId)?.digest ??
        null,
      attempt,
      commit,
      attemptRecord,
      review,
      approval: by === null ? null : this.approvalFacts(by),
      evidence: evidenceFiles(events, packetId, attempt),
    };
  }

  /** Who signed the decision that completed a packet, read again through the trusted keys. */
  private approvalFacts(by: Decision): PacketAttestation["approval"] {
    const text = fs.readFileSync(resolveInside(this.host.dir, by.file.path, "approval"), "utf8");
    const read = readSignedApproval(JSON.parse(text), this.host.operator.trust);
    if (!read.ok) return null;
    return {
      gate_id: by.gateId,
      approval_digest: by.approvalDigest as NonNullable<PacketAttestation["approval"]>["approval_digest"],
      key_id: read.approval.key_id,
      decided_by: read.approval.decided_by,
    };
  }

  /** Sign a statement, write it as a signed bundle at `rel`, and return the journal draft naming it. */
  private sign(
    statement: InTotoStatement,
    rel: string,
    data: Omit<
      Extract<EventDraft, { type: "attestation.recorded" }>["data"],
      "statement_digest" | "key_id" | "files"
    >,
  ): EventDraft {
    const { key } = this.host.operator;
    const text = renderArtifact(signStatement(statement, key));
    writeFileAtomic(resolveInside(this.host.dir, rel, "attestation"), text);
    return {
      type: "attestation.recorded",
      data: {
        ...data,
        statement_digest: digest(statement),
        key_id: key.keyId,
        files: [{ path: rel, digest: digestBytes(text) }],
      },
    } as EventDraft;
  }

  private attestPacket(packetId: string, attempt: number, commit: string | null, by: Decision | null): void {
    const statement = packetStatement(this.facts(packetId, attempt, commit, by));
    const assurance = (statement.predicate as PacketAttestation).assurance;
    this.host.append([
      this.sign(
        statement,
        packetAttestationPath(packetId, attempt, (this.attestations.get(`${packetId}#${attempt}`) ?? 0) + 1),
        {
          subject: "packet",
          packet_id: packetId,
          attempt,
          assurance,
        },
      ),
    ]);
  }

  /**
   * Sign and journal the run's attestation, as it is about to complete (run.completed follows
   * it): its integration head, every packet attestation and every approval.
   */
  attestRun(integrationHead: string | null): void {
    this.attestCompleted();
    const packets: RunAttestation["packets"] = [...this.attested]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([packetId, r]) => ({
        packet_id: packetId,
        attempt: r.attempt,
        path: r.file.path,
        statement_digest: r.statementDigest as RunAttestation["packets"][number]["statement_digest"],
        bundle_digest: r.file.digest as RunAttestation["packets"][number]["bundle_digest"],
        assurance: r.assurance,
      }));
    const approvals: RunAttestation["approvals"] = this.approvals.map((a) => ({
      gate_id: a.gateId,
      path: a.file.path,
      decision: a.decision,
      approval_digest: a.approvalDigest as RunAttestation["approvals"][number]["approval_digest"],
      bundle_digest: a.file.digest as RunAttestation["approvals"][number]["bundle_digest"],
    }));
    const runFileDigest = digestBytes(fs.readFileSync(path.join(this.host.dir, "run.json")));
    const statement = runStatement({
      run: this.host.run,
      runFileDigest,
      integrationHead,
      packets,
      approvals,
    });
    this.host.append([
      this.sign(statement, runAttestationPath(this.runAttestations + 1), { subject: "run" }),
    ]);
  }
}

/** What the attestor works with: the run store, the run, the operator's key, and the journal to append to. */
export interface AttestorHost {
  /** The run directory, absolute. */
  readonly dir: string;
  readonly run: Run;
  readonly operator: { key: SigningKey; trust: TrustStore };
  state(): RunState;
  append(drafts: readonly EventDraft[]): unknown;
}

/** The attestor's host in the run loop: the run's setup and its journal. */
export function loopHost(ctx: RunContext): AttestorHost {
  const { setup, log } = ctx;
  return {
    dir: setup.dir,
    run: setup.loaded.run,
    operator: setup.options.operator,
    state: () => log.state,
    append: (drafts) => log.append(drafts),
  };
}

/**
 * Attest, outside the run loop, every completed packet of a run that has no attestation yet
 * (`dwm approve` completing a human gate's packet): signed with the operator's key, appended
 * through `journal`, which must hold the run lock.
 */
export function attestCompletedPackets(
  dir: string,
  run: Run,
  journal: Pick<Journal, "state" | "appendAll">,
  operator: AttestorHost["operator"],
): void {
  const a = new Attestor({
    dir,
    run,
    operator,
    state: () => journal.state,
    append: (drafts) => journal.appendAll(drafts),
  });
  a.noteHistory(readJournal(dir).events);
  a.attestCompleted();
}

/** A packet's latest attestation as the journal names it. */
interface PacketAttestationRef {
  attempt: number;
  file: FileRef;
  statementDigest: string;
  assurance: PacketAttestation["assurance"];
}
