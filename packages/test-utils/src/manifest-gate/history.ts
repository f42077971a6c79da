// A short language for a run's history in a manifest, so a case can say "done inventory",
// "open write", "record implement timeout" instead of spelling out journal events with
// digests. It expands to event drafts ({type, data}) that the runtime's journal or fold
// takes; it knows the event shapes of journal-event.schema.json, not the runtime's rules.
import { digest, renderArtifact, signStatement } from "@dwm/core";
import type { Approval, InTotoStatement } from "@dwm/schemas";
import { testOperatorKey } from "../operator.js";

/** A step: "verb args…", or a raw draft whose strings may use @packet:ID, @gate:ID, @digest:TEXT. */
export type HistoryStep = string | { type: string; data: Record<string, unknown> };

/** A draft journal event. */
export interface HistoryDraft {
  type: string;
  data: Record<string, unknown>;
}

/** A draft with the envelope of a journal event. */
export interface HistoryEvent extends HistoryDraft {
  seq: number;
  prev: string;
  at: string;
  digest: string;
}

/** What expanding steps needs of the run (run.json's shape). */
export interface HistoryRun {
  /** The run's id (approvals name it); default "run". */
  run_id?: string;
  packets: readonly { packet_id: string; digest: string }[];
  gates: readonly { gate_id: string; digest: string }[];
}

export interface HistoryOptions {
  /** The packets a gate holds (for gate.opened); default none. */
  gatePackets?: (gateId: string) => readonly string[];
  /**
   * Write an evidence file into the run store and return its reference (runtime cases); default:
   * no files. With it, approvals are bundles signed by the test operator (testOperatorKey) and a
   * completed packet, and a completed run, get a signed attestation, as DWM writes them.
   */
  putFile?: (rel: string, content: string) => { path: string; digest: string };
}

type FileRef = { path: string; digest: string };
const hex = (d: string) => d.slice("sha256:".length);

const COMMIT = "c".repeat(40);

/** Expands history steps in order, tracking each packet's attempt number. */
export class HistoryPlayer {
  private readonly attempts = new Map<string, number>();
  private readonly retries = new Map<string, number>();
  private readonly decisions = new Map<string, number>();
  /** Evidence files written per packet attempt ("id/n"): the subjects of its attestation. */
  private readonly evidence = new Map<string, FileRef[]>();
  private readonly key = testOperatorKey();
  constructor(
    private readonly run: HistoryRun,
    private readonly options: HistoryOptions = {},
  ) {}

  packetDigest(id: string): string {
    return this.run.packets.find((p) => p.packet_id === id)?.digest ?? digest(`packet ${id}`);
  }

  gateDigest(id: string): string {
    return this.run.gates.find((g) => g.gate_id === id)?.digest ?? digest(`gate ${id}`);
  }

  private files(rel: string, content: string): FileRef[] {
    return this.options.putFile ? [this.options.putFile(rel, content)] : [];
  }

  /** Files written as evidence of packet `id`'s attempt `n` (kept as its attestation's subjects). */
  private evidenceFiles(id: string, n: number, rel: string, content: string): FileRef[] {
    const refs = this.files(rel, content);
    const k = `${id}/${n}`;
    this.evidence.set(k, [...(this.evidence.get(k) ?? []), ...refs]);
    return refs;
  }

  /** A statement signed with the test operator's key, written at `rel`. */
  private signed(rel: string, statement: InTotoStatement): FileRef[] {
    return this.files(rel, renderArtifact(signStatement(statement, this.key)));
  }

  /** attestation.recorded of packet `id`'s attempt `n` (only when files are written), as the runner's attestor journals it. */
  private attestPacket(id: string, n: number): HistoryDraft[] {
    const evidence = this.evidence.get(`${id}/${n}`) ?? [];
    // Nothing to vouch for (a completion the journal will refuse: no attempt or review written).
    if (!this.options.putFile || evidence.length === 0) return [];
    const statement: InTotoStatement = {
      _type: "https://in-toto.io/Statement/v1",
      subject: evidence.map((f) => ({
        name: f.path,
        digest: { sha256: hex(f.digest) },
      })) as InTotoStatement["subject"],
      predicateType: "https://dwm.dev/attestations/packet/v1",
      predicate: { kind: "packet-attestation", packet_id: id, attempt: n, assurance: "claimed" },
    };
    const files = this.signed(`attestations/packets/${id}/${n}.json`, statement);
    return [
      {
        type: "attestation.recorded",
        data: {
          subject: "packet",
          packet_id: id,
          attempt: n,
          assurance: "claimed",
          statement_digest: digest(statement),
          key_id: this.key.keyId,
          files,
        },
      },
    ];
  }

  /** attestation.recorded of the run (only when files are written), journaled before run.completed. */
  private attestRun(): HistoryDraft[] {
    if (!this.options.putFile) return [];
    const statement: InTotoStatement = {
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: `run:${this.run.run_id ?? "run"}`, digest: { sha256: hex(digest("run")) } }],
      predicateType: "https://dwm.dev/attestations/run/v1",
      predicate: { kind: "run-attestation", run_id: this.run.run_id ?? "run" },
    };
    const files = this.signed("attestations/run/1.json", statement);
    return [
      {
        type: "attestation.recorded",
        data: { subject: "run", statement_digest: digest(statement), key_id: this.key.keyId, files },
      },
    ];
  }

  private resolve(v: unknown): unknown {
    if (typeof v === "string") {
      if (v.startsWith("@packet:")) return this.packetDigest(v.slice(8));
      if (v.startsWith("@gate:")) return this.gateDigest(v.slice(6));
      if (v.startsWith("@digest:")) return digest(v.slice(8));
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => this.resolve(x));
    if (v !== null && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolve(x)]));
    return v;
  }

  /**
   * The steps as journal events for a fold: seq from 1, a fixed time, and stand-in digests
   * (a fold reads neither; the runtime's own gate checks real hash chains).
   */
  events(steps: readonly HistoryStep[], at = "2026-01-01T00:00:00.000Z"): HistoryEvent[] {
    return this.expand(steps).map((d, i) => ({
      seq: i + 1,
      prev: digest(`event ${i}`),
      type: d.type,
      at,
      data: d.data,
      digest: digest(`event ${i + 1}`),
    }));
  }

  /** The drafts of a list of steps. */
  expand(steps: readonly HistoryStep[]): HistoryDraft[] {
    return steps.flatMap((s) => (typeof s === "string" ? this.step(s) : [this.raw(s)]));
  }

  private raw(s: { type: string; data: Record<string, unknown> }): HistoryDraft {
    const data = this.resolve(s.data) as Record<string, unknown>;
    if (s.type === "packet.dispatched" && typeof data.packet_id === "string")
      this.attempts.set(data.packet_id, data.attempt as number);
    return { type: s.type, data };
  }

  private step(line: string): HistoryDraft[] {
    const [verb = "", id = "", ...rest] = line.trim().split(/\s+/);
    const more = rest.join(" ");
    const n = this.attempts.get(id) ?? 0;
    switch (verb) {
      case "done":
        return ["dispatch", "record", "review", "complete"].flatMap((v) =>
          this.step(v === "review" ? `review ${id} approved` : `${v} ${id}`),
        );
      case "dispatch":
        this.attempts.set(id, n + 1);
        return [
          {
            type: "packet.dispatched",
            data: {
              packet_id: id,
              attempt: n + 1,
              packet_digest: this.packetDigest(id),
              base_commit: null,
              backend: "shell",
            },
          },
        ];
      case "record": {
        const outcome = more || "ok";
        const body = `${JSON.stringify({ packet_id: id, attempt: n, outcome })}\n`;
        return [
          {
            type: "attempt.recorded",
            data: {
              packet_id: id,
              attempt: n,
              outcome,
              attempt_digest: digest(`attempt ${id} ${n}`),
              files: this.evidenceFiles(id, n, `attempts/${id}/${n}/attempt.json`, body),
            },
          },
        ];
      }
      case "review": {
        const verdict = more || "approved";
        const body = `${JSON.stringify({ packet_id: id, attempt: n, verdict })}\n`;
        return [
          {
            type: "packet.reviewed",
            data: {
              packet_id: id,
              attempt: n,
              verdict,
              review_digest: digest(`review ${id} ${n}`),
              files: this.evidenceFiles(id, n, `reviews/${id}/${n}.json`, body),
            },
          },
        ];
      }
      case "complete":
        return [
          { type: "packet.completed", data: { packet_id: id, attempt: n } },
          ...this.attestPacket(id, n),
        ];
      case "repair":
        return [
          {
            type: "repair.scheduled",
            data: { packet_id: id, next_attempt: n + 1, reason: more || "changes requested" },
          },
        ];
      case "infra-retry": {
        const retry = (this.retries.get(id) ?? 0) + 1;
        this.retries.set(id, retry);
        return [
          {
            type: "infra.retry-scheduled",
            data: { packet_id: id, attempt: n, retry, reason: more || "timeout" },
          },
        ];
      }
      case "fail":
        return [{ type: "packet.failed", data: { packet_id: id, reason: more || "failed" } }];
      case "abandon":
        return [
          { type: "packet.abandoned", data: { packet_id: id, attempt: n, reason: more || "runner died" } },
        ];
      case "reopen":
        return [{ type: "packet.reopened", data: { packet_id: id, reason: more || "reopened" } }];
      case "open":
        return [
          {
            type: "gate.opened",
            data: {
              gate_id: id,
              gate_digest: this.gateDigest(id),
              // "open G P1 P2": a gate opened at run time names the packets it holds.
              packets: rest.length ? rest : [...(this.options.gatePackets?.(id) ?? [])],
              reason: `gate ${id} holds work`,
            },
          },
        ];
      case "approve":
      case "reject":
        return [this.decision(verb, id, rest)];
      case "merge":
        return [{ type: "integration.merged", data: { packet_id: id, commit: more || COMMIT } }];
      case "conflict":
        return [
          { type: "integration.conflict", data: { packet_id: id, paths: ["conflict.txt"], gate_id: more } },
        ];
      case "stop":
        return [{ type: "run.stopped", data: { reason: id || "interrupted" } }];
      case "complete-run":
        return [...this.attestRun(), { type: "run.completed", data: {} }];
      default:
        throw new Error(`unknown history step ${JSON.stringify(line)}`);
    }
  }

  private decision(verb: "approve" | "reject", id: string, packets: string[]): HistoryDraft {
    const k = (this.decisions.get(id) ?? 0) + 1;
    this.decisions.set(id, k);
    const decision = verb === "approve" ? "approve" : "reject";
    const gateDigest = this.gateDigest(id);
    const approval: Approval = {
      kind: "approval",
      schema_version: "2",
      run_id: this.run.run_id ?? "run",
      gate_id: id,
      gate_digest: gateDigest,
      integration_head: null,
      decision,
      reason: verb === "reject" ? "rejected in the history" : "",
      packets: verb === "reject" ? packets : [],
      approver: { name: "Test Operator", source: "os-user" },
      key_id: this.key.keyId,
      decided_by: "operator",
      policy: null,
      at: "2026-01-01T00:00:00.000Z",
    };
    const data: Record<string, unknown> = {
      gate_id: id,
      gate_digest: gateDigest,
      approval_digest: this.options.putFile ? digest(approval) : digest(`approval ${id} ${k}`),
      files: this.signed(`approvals/${id}/${k}.json`, {
        _type: "https://in-toto.io/Statement/v1",
        subject: [{ name: `gate:${id}`, digest: { sha256: hex(gateDigest) } }],
        predicateType: "https://dwm.dev/attestations/approval/v1",
        predicate: approval as unknown as InTotoStatement["predicate"],
      }),
    };
    if (verb === "reject") data.packets = packets;
    return { type: verb === "approve" ? "gate.approved" : "gate.rejected", data };
  }
}
