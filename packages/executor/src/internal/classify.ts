import type { ProcessResult } from "@dwm/core";
import type { AttemptOutcome } from "@dwm/schemas";
import type { TranscriptInfo } from "./json-lines.js";

/** An invocation's outcome and the text that explains it. */
export interface Classified {
  outcome: AttemptOutcome;
  detail: string | null;
}

/**
 * The outcome of one invocation, in the order docs/backends.md gives: a program that could not
 * start, an auth failure DWM stopped the process for (`stopped`: the decisive transcript event),
 * the timeout, death by a signal, then what the backend's transcript reports (auth failure,
 * rate limit, an error result), then the exit code.
 */
export function classifyInvocation(
  program: string | undefined,
  r: Pick<ProcessResult, "spawnError" | "timedOut" | "signal" | "exitCode">,
  t: Pick<TranscriptInfo, "authError" | "rateLimit" | "resultError"> | null,
  stopped: string | null = null,
): Classified {
  if (r.spawnError !== null) return { outcome: "backend-missing", detail: `${program}: ${r.spawnError}` };
  if (stopped !== null) return { outcome: "auth-failed", detail: stopped };
  if (r.timedOut) return { outcome: "timeout", detail: null };
  if (r.signal !== null) return { outcome: "crashed", detail: `killed by ${r.signal}` };
  if (t?.authError) return { outcome: "auth-failed", detail: t.authError };
  if (t?.rateLimit) return { outcome: "rate-limited", detail: t.rateLimit };
  if (r.exitCode === 0 && t?.resultError) return { outcome: "task-failed", detail: t.resultError };
  if (r.exitCode === 0) return { outcome: "ok", detail: null };
  return { outcome: "task-failed", detail: t?.resultError ?? null };
}
