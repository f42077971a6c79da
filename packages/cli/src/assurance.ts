import { readJournal } from "@dwm/runtime";
import type { JournalEvent } from "@dwm/schemas";

/** Attempts the journal records as run without an OS sandbox (sandbox `none`): lower assurance. */
export function unsandboxedAttempts(events: readonly JournalEvent[]): number {
  let n = 0;
  for (const e of events) if (e.type === "attempt.recorded" && e.data.sandbox === "none") n++;
  return n;
}

/** The same, read from a run's journal; 0 when it cannot be read (verify reports why). */
export function unsandboxedAttemptsOf(runDir: string): number {
  try {
    return unsandboxedAttempts(readJournal(runDir).events);
  } catch {
    return 0;
  }
}

/**
 * The line status and verify print when some attempts ran without a sandbox. The journal says
 * only `none`, not why: a runner given --no-sandbox, or one that started nothing (every worker a
 * dry run) where no sandbox works.
 */
export function assuranceLine(unsandboxed: number): string {
  return `assurance lower: ${unsandboxed} attempt(s) ran without an OS sandbox (recorded as sandbox none: --no-sandbox, or a dry run where no sandbox works): any process they started had your files, keys and git refs`;
}
