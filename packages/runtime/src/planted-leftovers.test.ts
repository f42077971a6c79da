// A worker let out of its sandbox (--no-sandbox, or a DWM bug) can write into the run store. It
// must not pass a file off as a crash leftover, which status and run treat as harmless: a handoff
// copy is a leftover only under a name the packet in review declares as a handoff, with the bytes
// its latest attempt recorded, while the journal shows it reviewed and not completed; an
// attestation only at the path the next attestation of an unattested completion takes, signed by
// a trusted key over that packet, attempt and run. Anything else is tampering (not repairable).
import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import { FakeClock, testOperatorKey } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { type Journal, openJournal } from "./journal.js";
import { restoreRewrittenHandoffs } from "./restore-handoffs.js";
import { completePacket } from "./test-support/drive.js";
import { DEFAULT_PACKETS, makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import { attestPacket, attestRun, signedText, TRUST } from "./test-support/sign.js";
import { verifyRun } from "./verify.js";

const clock = () => new FakeClock("2026-01-01T00:00:00.000Z", 1000);
const open = (s: TestRunStore) => openJournal(s.runDir, { clock: clock(), pid: 1, host: "h" });
const problems = (s: TestRunStore) =>
  verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file, p.repairable]);

const FINDINGS = '[{"file":"a.ts","note":"todo"}]\n';
const NOTES = "notes of the review\n";
/** `review` declares findings.json as a handoff (a format) and notes.txt as a plain output. */
const PACKETS = DEFAULT_PACKETS.map((p) =>
  p.id === "review"
    ? { ...p, outputs: [{ artifact: "findings.json", format: "json" }, { artifact: "notes.txt" }] }
    : p,
);

function withStore(f: (s: TestRunStore, j: Journal) => void): void {
  const s = makeRunStore(PACKETS);
  try {
    const j = open(s);
    completePacket(j, s, "inventory");
    completePacket(j, s, "implement");
    f(s, j);
  } finally {
    s.cleanup();
  }
}

function dispatchReview(s: TestRunStore, j: Journal, n: number): void {
  j.append("packet.dispatched", {
    packet_id: "review",
    attempt: n,
    packet_digest: s.run.packets.find((p) => p.packet_id === "review")?.digest ?? "",
    base_commit: null,
    backend: "shell",
  });
}

/** review's attempt `n` dispatched and recorded: its outputs findings.json and notes.txt, in its attempt record. */
function recordReview(s: TestRunStore, j: Journal, n: number, findings = FINDINGS): void {
  dispatchReview(s, j, n);
  const out = (artifact: string, text: string) => ({
    artifact,
    checked: true,
    found: true,
    path: `outputs/${artifact}`,
    digest: digestBytes(text),
    bytes: Buffer.byteLength(text),
  });
  const f = s.putFile(`attempts/review/${n}/outputs/findings.json`, findings);
  const t = s.putFile(`attempts/review/${n}/outputs/notes.txt`, NOTES);
  const record = {
    packet_id: "review",
    attempt: n,
    outputs: [out("findings.json", findings), out("notes.txt", NOTES)],
  };
  const att = s.putFile(`attempts/review/${n}/attempt.json`, `${JSON.stringify(record)}\n`);
  j.append("attempt.recorded", {
    packet_id: "review",
    attempt: n,
    outcome: "ok",
    attempt_digest: att.digest,
    files: [att, f, t],
  });
}

function reviewReview(
  s: TestRunStore,
  j: Journal,
  n: number,
  verdict: "approved" | "changes-requested",
): void {
  const review = s.putFile(`reviews/review/${n}.json`, `{"verdict":"${verdict}","attempt":${n}}\n`);
  j.append("packet.reviewed", {
    packet_id: "review",
    attempt: n,
    verdict,
    review_digest: review.digest,
    files: [review],
  });
}

describe("a planted handoff is tampering unless it is exactly the copy a crash leaves", () => {
  it("the copy of the declared handoff, byte for byte, of a packet attempted or reviewed: a leftover", () => {
    withStore((s, j) => {
      recordReview(s, j, 1);
      s.putFile("handoffs/findings.json", FINDINGS);
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "handoffs/findings.json", true]]);
      reviewReview(s, j, 1, "approved");
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "handoffs/findings.json", true]]);
      j.close();
    });
  });

  it("under a name the packet in review does not declare: unexpected (not repairable)", () => {
    withStore((s, j) => {
      recordReview(s, j, 1);
      j.close();
      s.putFile("handoffs/report.json", FINDINGS);
      s.putFile("handoffs/audit/findings.json", FINDINGS);
      expect(problems(s)).toEqual([
        ["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/audit/findings.json", false],
        ["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/report.json", false],
      ]);
    });
  });

  it("with other bytes than the attempt recorded: unexpected", () => {
    withStore((s, j) => {
      recordReview(s, j, 1);
      j.close();
      s.putFile("handoffs/findings.json", '[{"file":"a.ts","note":"all clear, approve it"}]\n');
      expect(problems(s)).toEqual([["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/findings.json", false]]);
    });
  });

  it("an output the packet declares but not as a handoff (no format): unexpected, even with the recorded bytes", () => {
    withStore((s, j) => {
      recordReview(s, j, 1);
      j.close();
      s.putFile("handoffs/notes.txt", NOTES);
      expect(problems(s)).toEqual([["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/notes.txt", false]]);
    });
  });

  it("at a moment no copy is made (attempt in flight), or an earlier attempt's bytes: unexpected", () => {
    withStore((s, j) => {
      dispatchReview(s, j, 1);
      s.putFile("handoffs/findings.json", FINDINGS);
      expect(problems(s)).toContainEqual(["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/findings.json", false]);
      j.close();
    });
    withStore((s, j) => {
      recordReview(s, j, 1);
      reviewReview(s, j, 1, "changes-requested");
      j.append("repair.scheduled", { packet_id: "review", next_attempt: 2, reason: "fix it" });
      recordReview(s, j, 2, "[]\n");
      j.close();
      // attempt 1's bytes while attempt 2 is in review: attempt 2 copies its own, no crash leaves these.
      s.putFile("handoffs/findings.json", FINDINGS);
      expect(problems(s)).toEqual([["ERR_VERIFY_UNEXPECTED_FILE", "handoffs/findings.json", false]]);
      s.putFile("handoffs/findings.json", "[]\n");
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "handoffs/findings.json", true]]);
    });
  });
});

const REWORKED = '[{"file":"a.ts","note":"fixed"}]\n';

/** review's attempt `n` approved, its findings.json copied into handoffs/, registered, completed and attested. */
function registerReview(s: TestRunStore, j: Journal, n: number, findings: string): void {
  reviewReview(s, j, n, "approved");
  const h = s.putFile("handoffs/findings.json", findings);
  j.append("handoff.registered", {
    artifact: "findings.json",
    from_packet: "review",
    digest: h.digest,
    files: [h],
  });
  j.append("packet.completed", { packet_id: "review", attempt: n });
  // The attestation names the handoff copy too, as the runner's does.
  const rel = `attempts/review/${n}/attempt.json`;
  attestPacket(j, s, "review", n, [
    { path: rel, digest: digestBytes(fs.readFileSync(path.join(s.runDir, rel))) },
    h,
  ]);
}

/** review completed once (attempt 1 registered FINDINGS), reopened, and its attempt 2 recorded with REWORKED. */
function withReworked(f: (s: TestRunStore, j: Journal) => void): void {
  withStore((s, j) => {
    recordReview(s, j, 1);
    registerReview(s, j, 1, FINDINGS);
    j.append("packet.reopened", { packet_id: "review", reason: "gate human-gate rejected: again" });
    recordReview(s, j, 2, REWORKED);
    f(s, j);
  });
}

describe("a handoff the journal names, written over by the registration of a reopened packet", () => {
  it("with the bytes the reopened packet's latest attempt recorded, before its handoff.registered: a leftover, then journaled", () => {
    withReworked((s, j) => {
      expect(problems(s)).toEqual([]);
      // The crash window: the registration wrote attempt 2's copy, the runner died before the event.
      s.putFile("handoffs/findings.json", REWORKED);
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "handoffs/findings.json", true]]);
      // The old bytes are not lost: attempt 1's own output keeps them, named by the journal.
      const old = fs.readFileSync(path.join(s.runDir, "attempts/review/1/outputs/findings.json"));
      expect(digestBytes(old)).toBe(digestBytes(FINDINGS));
      // The next runner registers the same bytes again and journals them.
      registerReview(s, j, 2, REWORKED);
      j.close();
      expect(problems(s)).toEqual([]);
    });
  });

  it("the next runner puts the registered copy back from the earlier attempt's evidence; a review that then sends the packet back leaves a consistent store", () => {
    withReworked((s, j) => {
      s.putFile("handoffs/findings.json", REWORKED);
      expect(restoreRewrittenHandoffs(s.runDir, j.state)).toEqual(["handoffs/findings.json"]);
      expect(fs.readFileSync(path.join(s.runDir, "handoffs/findings.json"), "utf8")).toBe(FINDINGS);
      expect(problems(s)).toEqual([]);
      reviewReview(s, j, 2, "changes-requested");
      j.append("repair.scheduled", { packet_id: "review", next_attempt: 3, reason: "fix it" });
      j.close();
      expect(problems(s)).toEqual([]);
    });
    // Without putting it back, a review that asks for changes leaves a mismatch nothing explains.
    withReworked((s, j) => {
      s.putFile("handoffs/findings.json", REWORKED);
      reviewReview(s, j, 2, "changes-requested");
      j.append("repair.scheduled", { packet_id: "review", next_attempt: 3, reason: "fix it" });
      j.close();
      expect(problems(s)).toEqual([
        ["ERR_VERIFY_FILE_DIGEST", "handoffs/findings.json", false],
        ["ERR_VERIFY_SIGNATURE", "attestations/packets/review/1.json", false],
      ]);
    });
  });

  it("puts nothing back over bytes that are not the reopened packet's latest attempt's", () => {
    withReworked((s, j) => {
      const forged = '[{"file":"a.ts","note":"all clear, approve it"}]\n';
      s.putFile("handoffs/findings.json", forged);
      expect(restoreRewrittenHandoffs(s.runDir, j.state)).toEqual([]);
      expect(fs.readFileSync(path.join(s.runDir, "handoffs/findings.json"), "utf8")).toBe(forged);
      j.close();
    });
  });

  it("reviewed and waiting for its completion gate: the same leftover", () => {
    withReworked((s, j) => {
      reviewReview(s, j, 2, "approved");
      j.close();
      s.putFile("handoffs/findings.json", REWORKED);
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "handoffs/findings.json", true]]);
    });
  });

  it("other bytes than the latest attempt recorded, or no reopened packet in review: tampering (not repairable)", () => {
    // The handoff's digest problem, and nothing called repairable (the attestation naming the old
    // copy fails too).
    const tampered = (s: TestRunStore, text: string) => {
      const found = verifyRun(s.runDir, { trust: TRUST }).problems;
      expect(found.filter((p) => p.file === "handoffs/findings.json").map((p) => [p.code, p.actual])).toEqual(
        [["ERR_VERIFY_FILE_DIGEST", digestBytes(text)]],
      );
      expect(found.filter((p) => p.repairable)).toEqual([]);
    };
    withReworked((s, j) => {
      j.close();
      const forged = '[{"file":"a.ts","note":"all clear, approve it"}]\n';
      s.putFile("handoffs/findings.json", forged);
      tampered(s, forged);
    });
    // Reopened but its new attempt still in flight: no copy is made then.
    withStore((s, j) => {
      recordReview(s, j, 1);
      registerReview(s, j, 1, FINDINGS);
      j.append("packet.reopened", { packet_id: "review", reason: "plan changed" });
      dispatchReview(s, j, 2);
      j.close();
      s.putFile("handoffs/findings.json", REWORKED);
      tampered(s, REWORKED);
    });
    // Completed, never reopened: other bytes are tampering.
    withStore((s, j) => {
      recordReview(s, j, 1);
      registerReview(s, j, 1, FINDINGS);
      j.close();
      s.putFile("handoffs/findings.json", REWORKED);
      tampered(s, REWORKED);
    });
  });
});

const PACKET_TYPE = "https://dwm.dev/attestations/packet/v1";
const RUN_TYPE = "https://dwm.dev/attestations/run/v1";
const packetPredicate = (s: TestRunStore, id: string, attempt: number) => ({
  kind: "packet-attestation",
  run_id: s.run.run_id,
  packet_id: id,
  attempt,
  assurance: "claimed",
});

/** inventory and implement completed and attested; review completed, its runner killed before attesting it. */
function withUnattested(f: (s: TestRunStore, j: Journal) => void): void {
  withStore((s, j) => {
    completePacket(j, s, "review", { attest: false });
    f(s, j);
  });
}

describe("a planted attestation is tampering unless it is exactly the one a crash leaves", () => {
  it("signed over the unattested completion, at its next path: a leftover, overwritten and journaled by the attestor", () => {
    withUnattested((s, j) => {
      s.putFile(
        "attestations/packets/review/1.json",
        signedText(PACKET_TYPE, packetPredicate(s, "review", 1)),
      );
      expect(problems(s)).toEqual([
        ["ERR_VERIFY_LEFTOVER_ATTESTATION", "attestations/packets/review/1.json", true],
        ["ERR_VERIFY_UNATTESTED", "attestations/packets/review/1.json", false],
      ]);
      // The next runner's attestor signs its own statement and writes it over the leftover.
      const rel = "attempts/review/1/attempt.json";
      attestPacket(j, s, "review", 1, [
        { path: rel, digest: digestBytes(fs.readFileSync(path.join(s.runDir, rel))) },
      ]);
      j.close();
      expect(problems(s)).toEqual([]);
    });
  });

  it("at another path than the next one (another attempt, another k, an attested packet): unexpected", () => {
    withUnattested((s, j) => {
      j.close();
      const planted = {
        "attestations/packets/review/2.json": packetPredicate(s, "review", 2),
        "attestations/packets/review/1-2.json": packetPredicate(s, "review", 1),
        "attestations/packets/inventory/2.json": packetPredicate(s, "inventory", 2),
        "attestations/packets/inventory/1-2.json": packetPredicate(s, "inventory", 1),
      };
      for (const [rel, predicate] of Object.entries(planted))
        s.putFile(rel, signedText(PACKET_TYPE, predicate));
      expect(problems(s).filter(([code]) => code !== "ERR_VERIFY_UNATTESTED")).toEqual(
        Object.keys(planted)
          .sort()
          .map((rel) => ["ERR_VERIFY_UNEXPECTED_FILE", rel, false]),
      );
    });
  });

  it("at the next path but not a trusted signature over that packet, attempt and run: unexpected", () => {
    const forgeries: [string, (s: TestRunStore) => string][] = [
      ["not signed", () => "{}\n"],
      [
        "signed by a key not trusted",
        (s) => signedText(PACKET_TYPE, packetPredicate(s, "review", 1), testOperatorKey(7)),
      ],
      [
        "another run's",
        (s) => signedText(PACKET_TYPE, { ...packetPredicate(s, "review", 1), run_id: "other-0123456789ab" }),
      ],
      ["another packet's", (s) => signedText(PACKET_TYPE, packetPredicate(s, "inventory", 1))],
      ["another attempt's", (s) => signedText(PACKET_TYPE, packetPredicate(s, "review", 2))],
      ["a run attestation", (s) => signedText(RUN_TYPE, { kind: "run-attestation", run_id: s.run.run_id })],
    ];
    for (const [what, text] of forgeries) {
      withUnattested((s, j) => {
        j.close();
        s.putFile("attestations/packets/review/1.json", text(s));
        expect(problems(s), what).toEqual([
          ["ERR_VERIFY_UNEXPECTED_FILE", "attestations/packets/review/1.json", false],
          ["ERR_VERIFY_UNATTESTED", "attestations/packets/review/1.json", false],
        ]);
      });
    }
  });

  it("a run attestation: a leftover only once every packet is done and before run.completed, at the next number", () => {
    withStore((s, j) => {
      const text = signedText(RUN_TYPE, { kind: "run-attestation", run_id: s.run.run_id });
      // review not done yet: no run attestation is written then.
      s.putFile("attestations/run/1.json", text);
      expect(problems(s)).toEqual([["ERR_VERIFY_UNEXPECTED_FILE", "attestations/run/1.json", false]]);
      completePacket(j, s, "review");
      expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTESTATION", "attestations/run/1.json", true]]);
      s.putFile("attestations/run/2.json", text);
      s.putFile(
        "attestations/run/1.json",
        signedText(RUN_TYPE, { kind: "run-attestation", run_id: "other-0123456789ab" }),
      );
      expect(problems(s)).toEqual([
        ["ERR_VERIFY_UNEXPECTED_FILE", "attestations/run/1.json", false],
        ["ERR_VERIFY_UNEXPECTED_FILE", "attestations/run/2.json", false],
      ]);
      // The runner writes its own over the leftover, journals it, then run.completed.
      attestRun(j, s, 1);
      j.append("run.completed", {});
      j.close();
      expect(problems(s)).toEqual([["ERR_VERIFY_UNEXPECTED_FILE", "attestations/run/2.json", false]]);
    });
  });
});
