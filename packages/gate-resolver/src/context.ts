import path from "node:path";
import { readArtifact } from "@dwm/core";
import { readJournal } from "@dwm/runtime";
import type { Review, RunState } from "@dwm/schemas";

/**
 * The review of the last attempt of the packet a gate holds (for gates whose approval
 * completes it), read from reviews/ and checked against the digest its packet.reviewed
 * event recorded. Null when the held packet has no reviewed attempt. Read-only.
 */
export function loadGateReview(runDir: string, state: RunState, packets: readonly string[]): Review | null {
  const held = packets.find((id) => {
    const p = state.packets[id];
    return p !== undefined && p.attempts > 0 && p.state !== "completed";
  });
  if (held === undefined) return null;
  const attempt = state.packets[held]?.attempts ?? 0;
  const { events } = readJournal(runDir);
  const ev = events.findLast(
    (e) => e.type === "packet.reviewed" && e.data.packet_id === held && e.data.attempt === attempt,
  );
  if (ev?.type !== "packet.reviewed") return null;
  const file = ev.data.files[0];
  if (!file) return null;
  return readArtifact<Review>(path.join(runDir, file.path), "review", { expectDigest: ev.data.review_digest })
    .value;
}
