// What the runner's attestor does, for journals the CLI's tests write by hand: every completed
// packet without an attestation gets one, signed with the test operator's key.

import path from "node:path";
import { digest, digestBytes, renderArtifact, signStatement, writeFileAtomic } from "@dwm/core";
import { evidenceFiles, packetAttestationPath, packetStatement } from "@dwm/dispatcher";
import { type Journal, readJournal } from "@dwm/runtime";
import type { PacketAttestation } from "@dwm/schemas";
import { testOperatorKey } from "@dwm/test-utils";

/** Sign and journal (through `j`, which holds the lock) the attestation of every completed packet that has none. */
export function attestCompleted(j: Journal, runDir: string): void {
  const key = testOperatorKey();
  const events = readJournal(runDir).events;
  const attested = new Set(
    events.flatMap((e) =>
      e.type === "attestation.recorded" ? [`${e.data.packet_id}#${e.data.attempt}`] : [],
    ),
  );
  for (const e of events) {
    if (e.type !== "packet.completed" || attested.has(`${e.data.packet_id}#${e.data.attempt}`)) continue;
    const { packet_id: id, attempt } = e.data;
    const statement = packetStatement({
      runId: j.run.run_id,
      packetId: id,
      packetDigest: j.run.packets.find((p) => p.packet_id === id)?.digest ?? null,
      attempt,
      commit: e.data.commit ?? null,
      attemptRecord: null,
      review: null,
      approval: null,
      evidence: evidenceFiles(events, id, attempt),
    });
    const rel = packetAttestationPath(id, attempt);
    const text = renderArtifact(signStatement(statement, key));
    writeFileAtomic(path.join(runDir, rel), text);
    j.append("attestation.recorded", {
      subject: "packet",
      packet_id: id,
      attempt,
      assurance: (statement.predicate as PacketAttestation).assurance,
      statement_digest: digest(statement),
      key_id: key.keyId,
      files: [{ path: rel, digest: digestBytes(text) }],
    });
  }
}
