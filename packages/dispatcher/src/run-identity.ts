import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { QueueOrigin, RunState } from "@dwm/schemas";
import { dispatcherErrors } from "./errors.js";

/**
 * Who a distributed queue works for: the run, and the run instance. Two coordinators that run
 * the same plan (the same run id) in two repositories, or in two clones of one commit, have two
 * instances; a coordinator that resumes a run has the instance of that run's journal.
 */
export interface RunIdentity {
  runId: string;
  /** 32 hex digits. */
  instance: string;
}

/** A new run instance identity: 128 random bits as 32 hex digits (journaled at run.opened). */
export function newRunInstance(): string {
  return crypto.randomBytes(16).toString("hex");
}

/** The digests of the journal's first `n` complete lines (read no further than those). */
function firstDigests(runDir: string, n: number): string[] {
  const file = path.join(runDir, "journal.jsonl");
  const fd = fs.openSync(file, "r");
  try {
    const chunks: Buffer[] = [];
    let lines: string[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got > 0) chunks.push(Buffer.from(buf.subarray(0, got)));
      lines = Buffer.concat(chunks).toString("utf8").split("\n");
      if (got === 0 || lines.length > n) break;
    }
    return lines
      .slice(0, n)
      .filter((l) => l.endsWith("}"))
      .map((l) => String((JSON.parse(l) as { digest: unknown }).digest));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The run's instance identity: the one run.opened journaled (a coordinator that opened the
 * journal drew it), else one derived from the journal itself: 32 hex digits of the digest of its
 * second event (the first lease, chained over run.opened: it covers the time the journal was
 * opened and the pid and host of the runner that opened it). The same journal always gives the
 * same identity, so a resumed coordinator finds its jobs and refs again.
 */
export function runInstance(runDir: string, state: RunState): string {
  if (state.instance !== undefined) return state.instance;
  const [first, second] = firstDigests(runDir, 2);
  const d = second ?? first;
  if (d === undefined || !/^sha256:[0-9a-f]{64}$/.test(d)) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_EVIDENCE_MISSING",
      `the journal of ${state.run_id} has no first event to derive the run instance from`,
    );
  }
  return d.slice(7, 39);
}

const sameQueue = (a: QueueOrigin, b: QueueOrigin | undefined) =>
  b !== undefined && a.url === b.url && a.prefix === b.prefix;

/**
 * A runner resuming a run may only leave attempts in flight in a distributed queue behind when
 * it uses that queue (it adopts their jobs, and removes them once recorded): otherwise their jobs
 * would stay in Redis and run for nobody. ERR_QUEUE_RESUME_MISMATCH, unless `abandonQueued` (the
 * operator's `--abandon-queued`: the attempts are abandoned and run again here). Returns the
 * attempts left behind that way, as `<packet>/<n> (<url>)`.
 */
export function checkQueueResume(
  state: RunState,
  origin: QueueOrigin | undefined,
  abandonQueued: boolean,
): string[] {
  const elsewhere = Object.entries(state.packets).flatMap(([id, p]) =>
    p?.state === "dispatched" && p.queue !== undefined && !sameQueue(p.queue, origin)
      ? [{ id, attempt: p.attempts, queue: p.queue }]
      : [],
  );
  if (elsewhere.length === 0 || abandonQueued)
    return elsewhere.map((e) => `${e.id}/${e.attempt} (${e.queue.url})`);
  const first = elsewhere[0] as (typeof elsewhere)[number];
  const prefix = first.queue.prefix === "dwm" ? "" : ` --queue-prefix ${first.queue.prefix}`;
  throw dispatcherErrors.create(
    "ERR_QUEUE_RESUME_MISMATCH",
    `${elsewhere.length} attempt(s) of run ${state.run_id} are in flight in the queue at ${first.queue.url} (prefix ${first.queue.prefix}): ${elsewhere
      .map((e) => `${e.id}/${e.attempt}`)
      .join(
        ", ",
      )}; this runner ${origin ? `uses ${origin.url} (prefix ${origin.prefix})` : "has no --queue"}`,
    {
      hint: `Resume with that queue so their jobs are adopted and removed: dwm run ${state.run_id} --queue ${first.queue.url} --remote <the run's remote>${prefix} (put the password back into the URL). If that Redis is gone for good: dwm run ${state.run_id} --abandon-queued (they run again here; results of their old jobs are ignored).`,
      details: {
        run_id: state.run_id,
        queue: first.queue,
        attempts: elsewhere.map((e) => ({ packet_id: e.id, attempt: e.attempt })),
      },
    },
  );
}
