import { digest } from "@dwm/core";
import type { JournalEvent, Run } from "@dwm/schemas";
import { type EventDraft, encodeEvent } from "../events.js";

/** Chain drafts into events the way Journal.append does, without the disk (fixed `at`). */
export function chainEvents(
  run: Run,
  drafts: readonly EventDraft[],
  start: readonly JournalEvent[] = [],
): JournalEvent[] {
  const out = [...start];
  for (const d of drafts) {
    const last = out.at(-1);
    const body = {
      seq: out.length + 1,
      prev: last ? last.digest : digest(run),
      type: d.type,
      at: "2026-01-01T00:00:00.000Z",
      data: d.data,
    };
    out.push({ ...body, digest: encodeEvent(body).digest } as JournalEvent);
  }
  return out;
}
