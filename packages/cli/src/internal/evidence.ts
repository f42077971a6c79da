import fs from "node:fs";
import path from "node:path";
import { digestBytes, isDwmError, readArtifact } from "@dwm/core";
import type {
  Attempt,
  AttemptCost,
  DiffStat,
  FailingCheck,
  FindingDetail,
  InvocationRow,
  JournalEvent,
  PacketAttemptDetail,
  Review,
  TokenUsage,
  WorkerBindings,
} from "@dwm/schemas";
import { attemptCost } from "./prices.js";

/** Lines and characters of an output tail: enough to see an error, short enough to read. */
const TAIL_LINES = 15;
const TAIL_CHARS = 2000;

/** The last lines of a text (null when empty). */
export function tailOf(text: string): string | null {
  const lines = text.replace(/\s+$/, "").split("\n");
  const tail = lines.slice(-TAIL_LINES).join("\n");
  const cut = tail.length > TAIL_CHARS ? `…${tail.slice(-TAIL_CHARS)}` : tail;
  return cut === "" ? null : cut;
}

/** The tail of an evidence file, relative to the attempt directory (null when missing or empty). */
function fileTail(attemptDir: string, rel: string | null): string | null {
  if (rel === null) return null;
  try {
    return tailOf(fs.readFileSync(path.join(attemptDir, rel), "utf8"));
  } catch {
    return null;
  }
}

/** An artifact of the run, or null when it is missing or does not verify (`dwm verify` says why). */
function readOrNull<T>(file: string, schema: "attempt" | "review"): T | null {
  try {
    return readArtifact<T>(file, schema).value;
  } catch (e) {
    if (isDwmError(e)) return null;
    throw e;
  }
}

/** An attempt's evidence (attempt.json), or null when there is none or it does not verify. */
export function readAttempt(runDir: string, packetId: string, n: number): Attempt | null {
  return readOrNull<Attempt>(path.join(runDir, "attempts", packetId, String(n), "attempt.json"), "attempt");
}

/** The raw-bytes digest the journal recorded for each attempt.json (attempt.recorded files), by its path in the run. */
export function journaledAttemptFiles(events: readonly JournalEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type !== "attempt.recorded") continue;
    for (const f of e.data.files) if (f.path.endsWith("/attempt.json")) out.set(f.path, f.digest);
  }
  return out;
}

/**
 * An attempt.json whose bytes are the ones the journal recorded (it was checked against its
 * schema when written): parsed without checking it again, which a view of every attempt of a
 * large run could not afford. Null when missing or changed since (`dwm verify` says so).
 */
function readJournaledAttempt(runDir: string, rel: string, digest: string | undefined): Attempt | null {
  if (digest === undefined) return null;
  try {
    const bytes = fs.readFileSync(path.join(runDir, rel));
    return digestBytes(bytes) === digest ? (JSON.parse(bytes.toString("utf8")) as Attempt) : null;
  } catch {
    return null;
  }
}

/** Tokens and cost of each journaled attempt of a packet. */
export function packetCosts(
  runDir: string,
  packetId: string,
  attempts: number,
  bindings: WorkerBindings | null,
  journaled: ReadonlyMap<string, string>,
): { tokens: TokenUsage | null; cost: AttemptCost }[] {
  const out: { tokens: TokenUsage | null; cost: AttemptCost }[] = [];
  for (let n = 1; n <= attempts; n++) {
    const rel = `attempts/${packetId}/${n}/attempt.json`;
    const a = readJournaledAttempt(runDir, rel, journaled.get(rel));
    if (a) out.push({ tokens: a.tokens, cost: attemptCost(a, bindings) });
  }
  return out;
}

/** What the journal knows of one attempt: when it was dispatched, with which backend, and its verdict. */
interface JournaledAttempt {
  backend: string | null;
  verdict: string | null;
}

/** The attempts of a packet the journal records (dispatched ones), by number. */
export function journaledAttempts(
  events: readonly JournalEvent[],
  packetId: string,
): Map<number, JournaledAttempt> {
  const out = new Map<number, JournaledAttempt>();
  for (const e of events) {
    const d = e.data as { packet_id?: string; attempt?: number; backend?: string; verdict?: string };
    if (d.packet_id !== packetId || d.attempt === undefined) continue;
    const a = out.get(d.attempt) ?? { backend: null, verdict: null };
    if (e.type === "packet.dispatched") a.backend = d.backend ?? null;
    if (e.type === "packet.reviewed") a.verdict = d.verdict ?? null;
    out.set(d.attempt, a);
  }
  return out;
}

/** Review checks that failed, with the command, exit code and output tail of the check DWM ran for each. */
export function failingChecks(
  attempt: Attempt | null,
  review: Review | null,
  attemptDir: string,
): FailingCheck[] {
  const ran = new Map((attempt?.checks ?? []).map((c) => [c.id, c]));
  const fromReview = (review?.checks ?? []).filter((c) => c.status === "fail");
  const rows: FailingCheck[] = fromReview.map((c) => {
    const own = ran.get(c.id.replace(/^(validation|verification):/, ""));
    return {
      id: c.id,
      kind: c.kind,
      detail: c.detail,
      command: own?.command ?? null,
      exit_code: own?.exit_code ?? null,
      timed_out: own?.timed_out ?? false,
      output_tail: own ? joinTails(fileTail(attemptDir, own.stderr), fileTail(attemptDir, own.stdout)) : null,
    };
  });
  // Without a review (not reviewed yet), the failed checks of the attempt itself.
  if (review === null) {
    for (const c of attempt?.checks ?? []) {
      if (c.passed) continue;
      rows.push({
        id: c.id,
        kind: c.kind,
        detail: `${c.command} exited ${c.exit_code ?? c.signal ?? "?"}`,
        command: c.command,
        exit_code: c.exit_code,
        timed_out: c.timed_out,
        output_tail: joinTails(fileTail(attemptDir, c.stderr), fileTail(attemptDir, c.stdout)),
      });
    }
  }
  return rows;
}

function joinTails(stderr: string | null, stdout: string | null): string | null {
  const parts = [stderr ? `stderr:\n${stderr}` : null, stdout ? `stdout:\n${stdout}` : null].filter(
    (p): p is string => p !== null,
  );
  return parts.length ? parts.join("\n") : null;
}

/** The review's findings, each with its evidence as `file: excerpt` lines. */
export function findingDetails(review: Review | null): FindingDetail[] {
  return (review?.findings ?? []).map((f) => ({
    code: f.code,
    message: f.message,
    effect: f.effect,
    evidence: f.evidence.map((e) =>
      [e.path ?? "attempt.json", e.excerpt].filter((x) => x !== null && x !== "").join(": "),
    ),
  }));
}

/** Each invocation, with the end of its stderr when it did not end ok. */
function invocationRows(attempt: Attempt, attemptDir: string): InvocationRow[] {
  return attempt.invocations.map((i) => ({
    worker_id: i.worker_id,
    backend: i.backend,
    outcome: i.outcome,
    exit_code: i.exit_code,
    duration_ms: i.duration_ms,
    stderr_tail: i.outcome === "ok" || i.outcome === "not-run" ? null : fileTail(attemptDir, i.stderr),
  }));
}

/** The review's diff stat, else the attempt's changed files (no line counts); null without a diff. */
export function diffStat(attempt: Attempt | null, review: Review | null): DiffStat | null {
  if (review?.diff) {
    return {
      files: review.diff.files.map((f) => ({ ...f })),
      added: review.diff.added,
      removed: review.diff.removed,
    };
  }
  if (!attempt || attempt.changed_files.length === 0) return null;
  return {
    files: attempt.changed_files.map((f) => ({ path: f.path, status: f.status, added: null, removed: null })),
    added: null,
    removed: null,
  };
}

/** Why an attempt did not pass, as one class; null when it passed or is not reviewed yet. */
export function failureClass(
  attempt: Attempt | null,
  verdict: string | null,
): PacketAttemptDetail["failure_class"] {
  if (attempt === null) return "no-evidence";
  if (attempt.outcome !== "ok") return attempt.outcome;
  if (verdict === "changes-requested" || verdict === "needs-human") return verdict;
  return null;
}

/** Everything the operator needs about one attempt, read from its evidence and review. */
export function attemptDetail(
  runDir: string,
  packetId: string,
  n: number,
  journaled: JournaledAttempt | undefined,
  bindings: WorkerBindings | null,
): PacketAttemptDetail {
  const rel = `attempts/${packetId}/${n}`;
  const attemptDir = path.join(runDir, rel);
  const attempt = readOrNull<Attempt>(path.join(attemptDir, "attempt.json"), "attempt");
  const review = readOrNull<Review>(path.join(runDir, "reviews", packetId, `${n}.json`), "review");
  const verdict = review?.verdict ?? journaled?.verdict ?? null;
  const backends = attempt
    ? [...new Set(attempt.invocations.map((i) => i.backend))]
    : journaled?.backend
      ? [journaled.backend]
      : [];
  return {
    attempt: n,
    evidence: rel,
    backends,
    outcome: attempt?.outcome ?? null,
    failure_class: failureClass(attempt, verdict),
    exit_code: attempt?.exit_code ?? null,
    signal: attempt?.signal ?? null,
    started_at: attempt?.started_at ?? null,
    finished_at: attempt?.finished_at ?? null,
    duration_ms: attempt?.duration_ms ?? null,
    tokens: attempt?.tokens ?? null,
    cost: attempt ? attemptCost(attempt, bindings) : { usd: null, source: null, models: [] },
    verdict,
    failing_checks: failingChecks(attempt, review, attemptDir),
    findings: findingDetails(review),
    invocations: attempt ? invocationRows(attempt, attemptDir) : [],
    diff: diffStat(attempt, review),
    branch: attempt?.branch ?? null,
    head_commit: attempt?.head_commit ?? null,
  };
}
