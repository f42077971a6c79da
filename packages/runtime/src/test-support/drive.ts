import type { Journal } from "../journal.js";
import type { TestRunStore } from "./run-store.js";
import { attestPacket } from "./sign.js";

/** Dispatch the next attempt of packet `id` (shell backend, no base commit); its number. */
export function dispatchPacket(j: Journal, id: string): number {
  const p = j.state.packets[id];
  if (!p) throw new Error(`no packet ${id}`);
  const n = p.attempts + 1;
  const entry = j.run.packets.find((e) => e.packet_id === id);
  j.append("packet.dispatched", {
    packet_id: id,
    attempt: n,
    packet_digest: entry?.digest ?? `sha256:${"0".repeat(64)}`,
    base_commit: null,
    backend: "shell",
  });
  return n;
}

/** Take one packet through dispatch → attempt (with evidence files) → approved review → completed → attested. */
export function completePacket(
  j: Journal,
  store: TestRunStore,
  id: string,
  /** attest: false stops after packet.completed (a runner killed before its attestor ran). */
  options: { attest?: boolean } = {},
): void {
  const n = dispatchPacket(j, id);
  const stdout = store.putFile(`attempts/${id}/${n}/stdout`, `work of ${id} attempt ${n}\n`);
  const att = store.putFile(`attempts/${id}/${n}/attempt.json`, `{"packet_id":"${id}","attempt":${n}}\n`);
  j.append("attempt.recorded", {
    packet_id: id,
    attempt: n,
    outcome: "ok",
    attempt_digest: att.digest,
    files: [att, stdout],
  });
  const review = store.putFile(`reviews/${id}/${n}.json`, `{"verdict":"approved","attempt":${n}}\n`);
  j.append("packet.reviewed", {
    packet_id: id,
    attempt: n,
    verdict: "approved",
    review_digest: review.digest,
    files: [review],
  });
  j.append("packet.completed", { packet_id: id, attempt: n });
  if (options.attest !== false) attestPacket(j, store, id, n, [att, stdout, review]);
}
