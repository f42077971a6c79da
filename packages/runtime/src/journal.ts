import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  acquireLock,
  type Clock,
  type Digest,
  fsyncDir,
  isDwmError,
  type LockHandle,
  type LockInfo,
  readArtifact,
  writeArtifact,
} from "@dwm/core";
import type { JournalEvent, Run, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { runtimeErrors } from "./errors.js";
import {
  type EventData,
  type EventDraft,
  type EventType,
  encodeEvent,
  JOURNAL_FILE,
  scanJournal,
  type TornTail,
} from "./events.js";
import { applyEvent, foldJournal } from "./fold.js";
import { cachedSeq, evidenceFolders, HeadAnchor, headProblems, readJournalHead } from "./journal-head.js";
import { type Leftover, leftoverLive, refLockLeftovers, storeLeftovers } from "./leftovers.js";

export const RUN_FILE = "run.json";
export const STATE_FILE = "state.json";
export const LOCK_FILE = "lock";

export interface ReadJournalResult {
  events: JournalEvent[];
  /** The incomplete last line, if a crash left one (not part of `events`). */
  torn: TornTail | null;
}

function readBytes(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function throwFirst(problems: ReturnType<typeof scanJournal>["problems"], file: string): void {
  const p = problems.find((x) => !x.repairable);
  if (!p) return;
  throw runtimeErrors.create(p.code as "ERR_VERIFY_CHAIN", `${file}: ${p.message}`, {
    details: { ...p, journal: file, problems: problems.length },
  });
}

/**
 * Read a run's journal without changing anything. Every complete line is checked
 * (schema, canonical form, digest, seq, chain); the first bad one throws its
 * ERR_VERIFY_* code. An incomplete last line is reported as `torn`, not thrown.
 */
export function readJournal(runDir: string): ReadJournalResult {
  const file = path.join(runDir, JOURNAL_FILE);
  const buf = readBytes(file);
  if (buf === null) return { events: [], torn: null };
  const scan = scanJournal(buf);
  throwFirst(scan.problems, file);
  return { events: scan.events, torn: scan.torn };
}

/** Read run.json (schema, canonical rendering) and its digest. */
export function readRun(runDir: string): { run: Run; digest: Digest } {
  const r = readArtifact<Run>(path.join(runDir, RUN_FILE), "run");
  return { run: r.value, digest: r.digest };
}

export interface OpenJournalOptions {
  clock: Clock;
  /** Lease length in ms (default 30 s); append renews it when half has passed. */
  leaseMs?: number;
  /** For tests: identity of this runner and the liveness probe of other pids. */
  pid?: number;
  host?: string;
  isAlive?: (pid: number) => boolean;
  /**
   * run.json may differ from the run.json the journal last recorded: the caller
   * (`dwm compile`) is about to record a recompile with applyRecompile(). Without
   * it, a mismatch is ERR_VERIFY_RUN_DIGEST.
   */
  recompile?: boolean;
  /**
   * The run instance identity (32 hex digits) to journal in run.opened when the journal is new
   * (ignored otherwise). The caller draws it: a distributed-queue coordinator namespaces its jobs
   * and remote refs by it. Without it, run.opened carries none.
   */
  instance?: string;
  /**
   * The branch checked out in the repository, to journal in run.opened when the journal is new
   * (ignored otherwise): where `dwm land` brings the run's result by default.
   */
  branch?: string;
}

/** The single writer of a run's journal. */
export interface Journal {
  readonly runDir: string;
  /** run.json as last read (openJournal, reloadRun). */
  readonly run: Run;
  /** fold of every event so far. */
  readonly state: RunState;
  readonly seq: number;
  readonly head: Digest;
  /** The incomplete last line openJournal cut off, if any (also journaled as journal.truncated). */
  readonly repaired: TornTail | null;
  /** Crash leftovers openJournal removed (also journaled as store.recovered). */
  readonly recovered: readonly Leftover[];
  /**
   * What failed after an effect was journaled (journal.head, state.json, the lock's release):
   * the command still succeeded; it reports these as warnings.
   */
  readonly warnings: string[];
  /** Append one event (validated, checked against the state, fsynced) and return it. */
  append<T extends EventType>(type: T, data: EventData<T>): JournalEvent;
  /** Append several events with one fsync; all are checked before any is written. */
  appendAll(drafts: readonly EventDraft[]): JournalEvent[];
  /** Extend the lease now (append does it when half the lease has passed). */
  renew(): void;
  /** Re-read run.json (after a recompile wrote a new one). */
  reloadRun(): Run;
  /** Write state.json (a cache of `state`), atomically. */
  saveState(): void;
  /** Save state.json and release the lock. Idempotent. */
  close(): void;
}

class RunJournal implements Journal {
  readonly runDir: string;
  run: Run;
  state: RunState;
  readonly repaired: TornTail | null;
  recovered: readonly Leftover[] = [];
  readonly warnings: string[] = [];
  /** Size of the journal file: the end of the last complete line. */
  private bytes: number;
  private readonly anchor: HeadAnchor;
  private fd: number | null;
  private readonly clock: Clock;
  private readonly lock: LockHandle;
  private readonly leaseMs: number;

  constructor(init: {
    runDir: string;
    run: Run;
    state: RunState;
    fd: number;
    clock: Clock;
    lock: LockHandle;
    leaseMs: number;
    repaired: TornTail | null;
    bytes: number;
  }) {
    this.runDir = init.runDir;
    this.run = init.run;
    this.state = init.state;
    this.fd = init.fd;
    this.clock = init.clock;
    this.lock = init.lock;
    this.leaseMs = init.leaseMs;
    this.repaired = init.repaired;
    this.bytes = init.bytes;
    this.anchor = new HeadAnchor(init.runDir);
  }

  get seq(): number {
    return this.state.seq;
  }

  get head(): Digest {
    // Before the first event the chain hangs off run.json's digest.
    return (this.state.head ?? this.state.run_digest) as Digest;
  }

  append<T extends EventType>(type: T, data: EventData<T>): JournalEvent {
    return this.appendAll([{ type, data } as EventDraft])[0] as JournalEvent;
  }

  appendAll(drafts: readonly EventDraft[]): JournalEvent[] {
    if (this.fd === null) throw runtimeErrors.create("ERR_JOURNAL_CLOSED", "the journal is closed");
    if (drafts.length === 0) return [];
    this.renewIfDue();
    // All or none of a batch is applied. applyEvent checks before it changes anything, so a
    // refused event leaves the state as the events before it left it; when those exist, the
    // state is folded again from the journal, which holds none of the batch yet. (Copying the
    // state for every batch instead cost O(packets) per append: minutes on a 10,000-packet run.)
    const events: JournalEvent[] = [];
    let text = "";
    let prev = this.head;
    let seq = this.state.seq;
    const at = this.clock.now();
    try {
      for (const d of drafts) {
        seq++;
        const body = { seq, prev, type: d.type, at, data: d.data };
        const { digest: dg, line } = encodeEvent(body);
        const ev = { ...body, digest: dg } as JournalEvent;
        const v = validateSchema("journal-event", ev);
        if (!v.ok) {
          throw runtimeErrors.create(
            "ERR_JOURNAL_EVENT_INVALID",
            `${d.type} event does not match the schema`,
            {
              details: { type: d.type, problems: v.problems.slice(0, 10) },
            },
          );
        }
        applyEvent(this.state, ev);
        events.push(ev);
        text += `${line}\n`;
        prev = dg;
      }
    } catch (e) {
      if (events.length > 0) this.state = foldJournal(readJournal(this.runDir).events, this.run);
      throw e;
    }
    try {
      fs.writeFileSync(this.fd, text);
      fs.fsyncSync(this.fd);
    } catch (e) {
      // Part of the batch may be on disk (a full disk takes the first lines and refuses the
      // rest): cut it back so the batch is all or none there too; a complete line left would
      // count on the next open though this append failed. Refuse further appends either way.
      this.cutBack();
      this.abandon();
      throw e;
    }
    this.bytes += Buffer.byteLength(text);
    this.anchorHead();
    return events;
  }

  /**
   * Rewrite journal.head after an append. The events are durable already: a failure here
   * leaves the head behind the journal (allowed: it is a lower bound) and is a warning.
   */
  private anchorHead(): void {
    try {
      this.anchor.update({ seq: this.state.seq, digest: this.head, bytes: this.bytes });
    } catch (e) {
      this.warnings.push(`journal.head was not updated after event ${this.state.seq}: ${errText(e)}`);
    }
  }

  /** Truncate the journal to the end of its last appended batch (best effort: else the next open repairs a torn tail). */
  private cutBack(): void {
    if (this.fd === null) return;
    try {
      fs.ftruncateSync(this.fd, this.bytes);
      fs.fsyncSync(this.fd);
    } catch {
      // left for the next opener's torn-tail repair
    }
  }

  private abandon(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already unusable
      }
    }
    this.fd = null;
    try {
      this.anchor.close();
    } catch {
      // the journal failed first; that error is the one thrown
    }
    this.lock.release();
  }

  private renewIfDue(): void {
    const left = Date.parse(this.lock.info.expires_at) - Date.parse(this.clock.now());
    if (left < this.leaseMs / 2) this.renew();
  }

  renew(): void {
    try {
      this.lock.renew();
    } catch (e) {
      if (isDwmError(e) && e.code === "ERR_LOCK_LOST") {
        throw runtimeErrors.create("ERR_RUN_LOCK_LOST", `${this.runDir}: another runner took over this run`, {
          details: e.details ?? {},
          cause: e,
        });
      }
      throw e;
    }
  }

  reloadRun(): Run {
    this.run = readRun(this.runDir).run;
    return this.run;
  }

  saveState(): void {
    writeArtifact(path.join(this.runDir, STATE_FILE), "run-state", this.state);
  }

  close(): void {
    if (this.fd === null) return;
    // Everything journaled is durable by now: what fails from here on is a warning, never
    // the command's failure (state.json is a cache; a lock left behind is taken over).
    try {
      fs.closeSync(this.fd);
    } catch (e) {
      this.warnings.push(`closing the journal failed: ${errText(e)}`);
    }
    this.fd = null;
    try {
      this.anchor.close();
    } catch (e) {
      this.warnings.push(`journal.head was not synced: ${errText(e)}`);
    }
    try {
      this.saveState();
    } catch (e) {
      this.warnings.push(`state.json (a cache of the journal) was not saved: ${errText(e)}`);
    }
    try {
      this.lock.release();
    } catch (e) {
      this.warnings.push(`the run lock was not released: ${errText(e)}`);
    }
  }
}

function errText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

/** Is state.json missing, stale (seq/head differ) or unreadable? */
export function stateCacheStatus(
  runDir: string,
  seq: number,
  head: string | null,
): "fresh" | "stale" | "missing" {
  let buf: Buffer | null;
  try {
    buf = readBytes(path.join(runDir, STATE_FILE));
  } catch {
    return "stale"; // a cache that cannot be read (a directory in its place) is rebuilt
  }
  if (buf === null) return "missing";
  try {
    const v = JSON.parse(buf.toString("utf8")) as Partial<RunState>;
    return validateSchema("run-state", v).ok && v.seq === seq && v.head === head ? "fresh" : "stale";
  } catch {
    return "stale";
  }
}

/** Who this runner is and how long its lease lasts. */
interface Runner {
  pid: number;
  host: string;
  leaseMs: number;
}

/** Take the run lock; a live holder is ERR_RUN_LOCKED naming it. */
function takeRunLock(dir: string, run: Run, options: OpenJournalOptions, me: Runner): LockHandle {
  try {
    return acquireLock(path.join(dir, LOCK_FILE), {
      clock: options.clock,
      leaseMs: me.leaseMs,
      purpose: "run",
      pid: me.pid,
      host: me.host,
      ...(options.isAlive ? { isAlive: options.isAlive } : {}),
    });
  } catch (e) {
    if (isDwmError(e) && e.code === "ERR_LOCK_HELD") {
      const d = e.details ?? {};
      const who =
        d.pid === -1
          ? "another process that is writing its lock file now"
          : `pid ${String(d.pid)} on ${String(d.host)}`;
      throw runtimeErrors.create(
        "ERR_RUN_LOCKED",
        `run ${run.run_id} is locked by ${who} (lease until ${String(d.expires_at)})`,
        { details: { run_id: run.run_id, pid: d.pid, host: d.host, expires_at: d.expires_at }, cause: e },
      );
    }
    throw e;
  }
}

/** The fold of the journal's checked lines; a transition the fold refuses is ERR_VERIFY_STATE. */
function foldChecked(file: string, events: readonly JournalEvent[], run: Run): RunState {
  try {
    return foldJournal(events, run);
  } catch (e) {
    if (isDwmError(e) && e.code === "ERR_JOURNAL_TRANSITION") {
      throw runtimeErrors.create("ERR_VERIFY_STATE", `${file}: ${e.message}`, {
        details: e.details ?? {},
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * The journal against what anchors it outside itself (journal.head, evidence folders,
 * state.json): a missing, shortened or replaced journal is refused with its ERR_VERIFY_* code
 * (exit 3) before anything is cut or appended. The torn-tail repair comes after this, so it
 * only ever cuts an incomplete line past the anchored head.
 */
function checkAnchors(dir: string, file: string, buf: Buffer, scan: ReturnType<typeof scanJournal>): void {
  const { head, problem } = readJournalHead(dir);
  const problems = problem
    ? [problem]
    : headProblems(scan, {
        head,
        evidence: evidenceFolders(dir),
        stateSeq: cachedSeq(dir, STATE_FILE),
        journal: buf,
      });
  throwFirst(problems, file);
}

/**
 * Remove the crash leftovers nothing names and no live process writes: temp files of atomic
 * writes (their pid is gone) and git locks of this run's refs (this opener holds the run lock,
 * so the runner that held them is gone; a lock of a ref `dwm exec` or a queue worker writes
 * without the run lock only once older than a lease). Attempt folders are the run loop's (it
 * abandons them).
 */
function removeLeftovers(dir: string, run: Run): Leftover[] {
  const found = [
    ...storeLeftovers(dir, null).filter((l) => l.kind === "temp-file"),
    ...refLockLeftovers(dir, run.run_id),
  ].filter((l) => !leftoverLive(l, false));
  const removed: Leftover[] = [];
  for (const l of found) {
    try {
      fs.rmSync(l.file, { force: true });
      removed.push(l);
    } catch {
      // left for verify to report and the next opener to try again
    }
  }
  return removed;
}

/** Cut off the incomplete line only; everything before it was checked. */
function cutTornTail(file: string, torn: TornTail): void {
  const fdt = fs.openSync(file, "r+");
  try {
    fs.ftruncateSync(fdt, torn.offset);
    fs.fsyncSync(fdt);
  } finally {
    fs.closeSync(fdt);
  }
}

/** Open the journal for appending; a journal file created now is made durable in its folder. */
function openForAppend(dir: string, file: string, existed: boolean): number {
  const fd = fs.openSync(file, "a");
  if (!existed) fsyncDir(dir);
  return fd;
}

/**
 * The events opening a journal appends, in order: run.opened when the journal has no
 * event yet, journal.truncated when an incomplete last line was cut off, then
 * lease.taken, or lease.taken-over naming the dead runner's lease this one replaced.
 */
export function openingEvents(opening: {
  run: Run;
  runDigest: Digest;
  /** The journal holds no event yet. */
  fresh: boolean;
  torn: TornTail | null;
  tookOver: LockInfo | null;
  pid: number;
  host: string;
  /** Crash leftovers removed before the lease event. */
  recovered?: readonly Leftover[];
  instance?: string | undefined;
  branch?: string | undefined;
}): EventDraft[] {
  const { run, torn, tookOver, pid, host, instance, branch } = opening;
  const drafts: EventDraft[] = [];
  if (opening.fresh) {
    drafts.push({
      type: "run.opened",
      data: {
        run_digest: opening.runDigest,
        plan_digest: run.plan_digest,
        revision: run.revision,
        packets: run.packets.map((p) => p.packet_id),
        gates: run.gates.map((g) => g.gate_id),
        ...(instance !== undefined ? { instance } : {}),
        ...(branch !== undefined ? { branch } : {}),
      },
    });
  }
  if (torn) {
    drafts.push({
      type: "journal.truncated",
      data: { offset: torn.offset, bytes: torn.bytes, tail_digest: torn.digest },
    });
  }
  const [firstLeftover] = opening.recovered ?? [];
  if (opening.recovered && firstLeftover) {
    const describe = (l: Leftover) => ({
      kind: l.kind === "ref-lock" ? ("ref-lock" as const) : ("temp-file" as const),
      path: l.path,
      reason:
        l.kind === "ref-lock"
          ? "git's lock of a ref of this run, left by a runner that is gone"
          : `temporary file of an atomic write${l.pid === null ? "" : ` by pid ${l.pid}`}, whose writer is gone`,
    });
    drafts.push({
      type: "store.recovered",
      data: { leftovers: [describe(firstLeftover), ...opening.recovered.slice(1).map(describe)] },
    });
  }
  drafts.push(
    tookOver
      ? {
          type: "lease.taken-over",
          data: {
            pid,
            host,
            previous: { pid: tookOver.pid, host: tookOver.host, expires_at: tookOver.expires_at },
          },
        }
      : { type: "lease.taken", data: { pid, host } },
  );
  return drafts;
}

/**
 * Open a run's journal for writing: take the run lock (a live holder →
 * ERR_RUN_LOCKED with its pid and host; an expired lease of a dead runner is taken
 * over), check every complete line, cut off an incomplete last line (and only
 * that), fold the state, then journal run.opened (new journal), journal.truncated
 * (after a repair) and lease.taken or lease.taken-over.
 */
export function openJournal(runDir: string, options: OpenJournalOptions): Journal {
  const dir = path.resolve(runDir);
  const { run, digest: runDigest } = readRun(dir);
  const me: Runner = {
    leaseMs: options.leaseMs ?? 30_000,
    pid: options.pid ?? process.pid,
    host: options.host ?? os.hostname(),
  };
  const lock = takeRunLock(dir, run, options, me);
  try {
    const file = path.join(dir, JOURNAL_FILE);
    const buf = readBytes(file) ?? Buffer.alloc(0);
    const scan = scanJournal(buf);
    throwFirst(scan.problems, file);
    checkAnchors(dir, file, buf, scan);
    const state = foldChecked(file, scan.events, run);
    if (scan.events.length > 0 && state.run_digest !== runDigest && !options.recompile) {
      throw runtimeErrors.create(
        "ERR_VERIFY_RUN_DIGEST",
        `${path.join(dir, RUN_FILE)} has digest ${runDigest}; the journal last recorded ${state.run_digest}`,
        { details: { file: RUN_FILE, expected: state.run_digest, actual: runDigest } },
      );
    }
    if (scan.torn) cutTornTail(file, scan.torn);
    const fd = openForAppend(dir, file, buf.length > 0 || fs.existsSync(file));
    const journal = new RunJournal({
      runDir: dir,
      run,
      state,
      fd,
      clock: options.clock,
      lock,
      leaseMs: me.leaseMs,
      repaired: scan.torn,
      bytes: scan.torn ? scan.torn.offset : buf.length,
    });
    journal.recovered = removeLeftovers(dir, run);
    journal.appendAll(
      openingEvents({
        run,
        runDigest,
        fresh: scan.events.length === 0,
        torn: scan.torn,
        tookOver: lock.tookOver,
        pid: me.pid,
        host: me.host,
        recovered: journal.recovered,
        instance: options.instance,
        branch: options.branch,
      }),
    );
    if (stateCacheStatus(dir, journal.state.seq, journal.state.head) !== "fresh") {
      try {
        journal.saveState();
      } catch (e) {
        journal.warnings.push(`state.json (a cache of the journal) was not saved: ${errText(e)}`);
      }
    }
    return journal;
  } catch (e) {
    lock.release();
    throw e;
  }
}
