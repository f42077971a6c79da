import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type ArtifactProblem,
  checkArtifact,
  checkArtifactBytes,
  type DwmError,
  digest,
  digestBytes,
  isDwmError,
  isReadProblem,
  readArtifactFile,
  type TrustStore,
} from "@dwm/core";
import type { JournalEvent, Run, RunState, SchemaName, VerifyProblem, VerifyReport } from "@dwm/schemas";
import { JOURNAL_FILE, type JournalScan, scanJournal } from "./events.js";
import { foldJournal } from "./fold.js";
import { StatCache } from "./internal/stat-cache.js";
import { readStateCache, type StateCacheRead, stateCacheStatusOf } from "./internal/state-cache.js";
import { LOCK_FILE, RUN_FILE, STATE_FILE } from "./journal.js";
import { evidenceFolders, HEAD_FILE, headProblems, readJournalHead } from "./journal-head.js";
import {
  gitCommonDir,
  type Leftover,
  leftoverProblem,
  refLockLeftovers,
  rewrittenHandoff,
  runLockHeld,
  storeLeftovers,
} from "./leftovers.js";
import { trustFor, verifySignatures } from "./verify-signatures.js";

/**
 * Where the stat cache of the store check (see verify-cache.schema.json) of a run lives: in the
 * repository's git directory (`dwm/verify-cache/`), like git's own index: no part of the run,
 * never tracked, read-only to workers. Null outside a git repository (no cache: every check is full).
 */
export function verifyCacheFile(runDir: string): string | null {
  const dir = path.resolve(runDir);
  const common = gitCommonDir(dir);
  if (common === null) return null;
  const key = digestBytes(dir).slice("sha256:".length, "sha256:".length + 12);
  return path.join(common, "dwm", "verify-cache", `${path.basename(dir)}-${key}.json`);
}

/** Files every run store may hold that nothing else names. */
const EXEMPT = new Set([
  RUN_FILE,
  JOURNAL_FILE,
  STATE_FILE,
  LOCK_FILE,
  HEAD_FILE,
  ".dwm-run",
  "plan.json",
  "scorecard.json",
]);

/** The digest a file must have, and the journal event that named it (none for run.json's index). */
export type Expected = { digest: string; seq?: number };

/** How verify codes and words a problem @dwm/core found in a run-store file. */
export function verifyProblemOf(p: ArtifactProblem, seq?: number): VerifyProblem {
  const at = seq === undefined ? {} : { seq };
  const base = { file: p.file, message: p.message, repairable: false };
  switch (p.kind) {
    case "symlink":
      return { code: "ERR_VERIFY_SYMLINK", ...base, ...at };
    case "not-json":
    case "not-plain-json":
      return { code: "ERR_VERIFY_FILE_PARSE", ...base, ...at };
    case "schema":
    case "wrong-kind":
      return { code: "ERR_VERIFY_FILE_SCHEMA", ...base, ...at };
    case "digest":
      return {
        code: "ERR_VERIFY_FILE_DIGEST",
        ...base,
        message: `${p.file} does not match the digest recorded for it`,
        expected: p.detail.expected ?? "",
        actual: p.detail.actual ?? "",
        ...at,
      };
    case "not-canonical":
      return { code: "ERR_VERIFY_FILE_NOT_CANONICAL", ...base, ...at };
    default:
      return { code: "ERR_VERIFY_FILE_MISSING", ...base, ...at };
  }
}

/** Collects the problems of one verification and counts the files it could read. */
class StoreChecker {
  readonly problems: VerifyProblem[] = [];
  filesChecked = 0;
  /** Raw files found in this check to have the digest the journal names (sha256 of their bytes), by run-store path. */
  readonly found = new Map<string, string>();
  constructor(
    readonly runDir: string,
    readonly cache: StatCache | null = null,
  ) {}

  /** A file the cache says is unchanged since it had `expected`: counted, not read. */
  private cached(rel: string, expected: string | null): boolean {
    if (expected === null || this.cache === null || !this.cache.fresh(rel, expected)) return false;
    this.filesChecked++;
    this.cache.verified(rel, expected);
    return true;
  }

  add(code: string, file: string, message: string, extra: Partial<VerifyProblem> = {}): void {
    this.problems.push({ code, file, message, repairable: false, ...extra });
  }

  private options(expected: string | null) {
    return { root: this.runDir, label: "run-store path", expectDigest: expected };
  }

  /** Bytes of a run-store file, or null after reporting why not. Never follows a symlink. */
  read(rel: string): Buffer | null {
    const r = readArtifactFile(rel, this.options(null));
    if (!r.ok) {
      this.problems.push(verifyProblemOf(r.problem));
      return null;
    }
    this.filesChecked++;
    return r.bytes;
  }

  /** A raw file whose bytes must have `expected` digest. */
  bytes(rel: string, expected: string, seq?: number): void {
    if (this.cached(rel, expected)) {
      this.found.set(rel, expected);
      return;
    }
    const c = checkArtifactBytes(rel, this.options(expected));
    this.record(c, seq);
    if (!c.ok) return;
    this.found.set(rel, expected);
    this.cache?.verified(rel, expected);
  }

  /** A JSON artifact: parses, matches its schema, has the digest, is canonically rendered. */
  json(rel: string, schema: SchemaName | null, expected: string | null): unknown {
    // Only a file checked against a digest is cached; its value is not needed then.
    if (this.cached(rel, expected)) return undefined;
    const c = checkArtifact(rel, schema, this.options(expected));
    this.record(c, undefined);
    if (c.ok && expected !== null) this.cache?.verified(rel, expected);
    return c.value;
  }

  /**
   * run.json, which no digest names before the journal is read: its checks (schema, canonical
   * rendering) are skipped when the cache says it is unchanged since it last passed them, with
   * the digest it had then. Its value (undefined when unreadable), its digest, and whether it passed.
   */
  runFile(): { run: Run | undefined; digest: string | null; passed: boolean } {
    const known = this.cache?.recorded(RUN_FILE);
    if (known !== undefined && this.cache?.fresh(RUN_FILE, known)) {
      const r = readArtifactFile(RUN_FILE, this.options(null));
      if (r.ok) {
        this.filesChecked++;
        this.cache.verified(RUN_FILE, known);
        return { run: JSON.parse(r.bytes.toString("utf8")) as Run, digest: known, passed: true };
      }
    }
    const c = checkArtifact(RUN_FILE, "run", this.options(null));
    this.record(c, undefined);
    const run = c.value as Run | undefined;
    const d = run === undefined ? null : digest(run);
    if (c.ok && d !== null) this.cache?.verified(RUN_FILE, d);
    return { run, digest: d, passed: c.ok };
  }

  private record(c: { ok: boolean; problems: ArtifactProblem[] }, seq: number | undefined): void {
    const first = c.problems[0];
    if (c.ok || (first && !isReadProblem(first.kind))) this.filesChecked++;
    for (const p of c.problems) this.problems.push(verifyProblemOf(p, seq));
  }
}

/** `files: [{path, digest}]` of an event's data, if it has them. */
function namedFiles(ev: JournalEvent): { path: string; digest: string }[] {
  const files = (ev.data as { files?: unknown }).files;
  if (!Array.isArray(files)) return [];
  return files.filter(
    (f): f is { path: string; digest: string } =>
      typeof f === "object" && f !== null && typeof f.path === "string" && typeof f.digest === "string",
  );
}

/** Every file the journal names with its digest; when a path is named again, the latest naming wins. */
export function filesNamedByJournal(events: readonly JournalEvent[]): Map<string, Expected> {
  const named = new Map<string, Expected>();
  for (const ev of events)
    for (const f of namedFiles(ev)) named.set(f.path, { digest: f.digest, seq: ev.seq });
  return named;
}

/**
 * run.json must be the run.json the journal last recorded (the latest run.opened or
 * run.recompiled); a journal that records none says nothing about it.
 */
export function runDigestProblem(runDigest: string, events: readonly JournalEvent[]): VerifyProblem | null {
  const last = events.findLast((e) => e.type === "run.opened" || e.type === "run.recompiled");
  if (last === undefined) return null;
  const recorded = (last.data as { run_digest: string }).run_digest;
  if (recorded === runDigest) return null;
  return {
    code: "ERR_VERIFY_RUN_DIGEST",
    file: RUN_FILE,
    message: `run.json is not the run.json the journal last recorded (event ${last.seq})`,
    repairable: false,
    expected: recorded,
    actual: runDigest,
    seq: last.seq,
  };
}

/** An intact journal's history must fold: a chain of valid events can still tell an impossible story. */
export function foldProblem(events: JournalEvent[], run: Run): VerifyProblem | null {
  try {
    foldJournal(events, run);
    return null;
  } catch (e) {
    const seq = isDwmError(e) && typeof e.details?.seq === "number" ? { seq: e.details.seq } : {};
    const message = isDwmError(e) ? e.message : String(e);
    return { code: "ERR_VERIFY_STATE", file: JOURNAL_FILE, message, repairable: false, ...seq };
  }
}

/** Every line complete and every problem of the scan repairable (a torn tail): the chain can be trusted. */
export function journalIntact(scan: JournalScan): boolean {
  return scan.problems.every((p) => p.repairable) && scan.lines === scan.events.length;
}

/** The journal: its lines, its anchors (journal.head, evidence, state.json), run.json against the digest it last recorded, and its history. */
function checkJournal(
  c: StoreChecker,
  run: Run | undefined,
  runDigest: string | null,
): { scan: JournalScan; intact: boolean; state: RunState | null; bytes: Buffer; stateCache: StateCacheRead } {
  // The anchors first: a live runner only moves them forward after its appends, so read before
  // the journal they can never be ahead of it.
  const { head, problem } = readJournalHead(c.runDir);
  const evidence = evidenceFolders(c.runDir);
  const stateCache = readStateCache(c.runDir, STATE_FILE, c.cache);
  const stateSeq = stateCache.kind === "state" ? stateCache.seq : null;
  const exists = fs.existsSync(path.join(c.runDir, JOURNAL_FILE));
  const bytes = (exists ? c.read(JOURNAL_FILE) : null) ?? Buffer.alloc(0);
  const scan = scanJournal(bytes, c.cache?.journalPrefix(bytes) ?? 0);
  c.problems.push(...scan.problems);
  if (problem) c.problems.push(problem);
  const anchored = headProblems(scan, { head, evidence, stateSeq, journal: bytes });
  c.problems.push(...anchored);
  const intact = journalIntact(scan) && anchored.length === 0;
  if (run === undefined) return { scan, intact, state: null, bytes, stateCache };
  const stale = runDigestProblem(runDigest ?? digest(run), scan.events);
  if (stale) c.problems.push(stale);
  // A journal that fails its anchors tells no trustworthy state: no file passes for a leftover of it.
  if (!intact) return { scan, intact, state: null, bytes, stateCache };
  try {
    return { scan, intact, state: foldJournal(scan.events, run), bytes, stateCache };
  } catch {
    const unfoldable = foldProblem(scan.events, run);
    if (unfoldable) c.problems.push(unfoldable);
    return { scan, intact, state: null, bytes, stateCache };
  }
}

/** The marker, snapshots and everything run.json indexes; returns what each indexed file must be. */
function checkCompiledFiles(c: StoreChecker, run: Run): Map<string, Expected> {
  const marker = c.json(".dwm-run", "run-marker", null) as { run_id?: unknown } | undefined;
  if (marker !== undefined && marker.run_id !== run.run_id) {
    c.add(
      "ERR_VERIFY_FILE_SCHEMA",
      ".dwm-run",
      `the run marker names run ${String(marker.run_id)}, not ${run.run_id}`,
      {
        expected: run.run_id,
        actual: String(marker.run_id),
      },
    );
  }
  c.json("plan.json", null, run.plan_digest);
  c.json("scorecard.json", "scorecard", run.scorecard_digest);
  const expected = new Map<string, Expected>();
  for (const p of run.packets) {
    const rel = `packets/${p.packet_id}.json`;
    expected.set(rel, { digest: p.digest });
    c.json(rel, "packet", p.digest);
    const prompt = `prompts/${p.packet_id}.md`;
    expected.set(prompt, { digest: p.prompt_digest });
    c.bytes(prompt, p.prompt_digest);
  }
  for (const g of run.gates) {
    const rel = `gates/${g.gate_id}.json`;
    expected.set(rel, { digest: g.digest });
    c.json(rel, "gate", g.digest);
  }
  return expected;
}

/** Every file and symlink under `dir`, as sorted POSIX paths relative to it. */
function walk(
  dir: string,
  rel = "",
  out: { path: string; symlink: boolean }[] = [],
): { path: string; symlink: boolean }[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(rel ? `${dir}/${rel}` : dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // One array for the whole tree: copying each folder's list into its parent's cost more than the reads.
  for (const e of entries) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymbolicLink()) out.push({ path: p, symlink: true });
    else if (e.isDirectory()) walk(dir, p, out);
    else out.push({ path: p, symlink: false });
  }
  return out;
}

/**
 * A symlink anywhere, or a file that neither run.json, the journal nor the exempt list names:
 * a crash leftover (`leftovers`, by run-relative path: repairable) or an unexpected file.
 */
export function strayFileProblems(
  entries: readonly { path: string; symlink: boolean }[],
  expected: ReadonlyMap<string, Expected>,
  leftovers: readonly Leftover[] = [],
  runnerAlive = false,
): VerifyProblem[] {
  const leftoverOf = (p: string) =>
    leftovers.find((l) => l.kind !== "ref-lock" && (l.path === p || p.startsWith(`${l.path}/`)));
  const reported = new Set<Leftover>();
  return entries.flatMap((entry): VerifyProblem[] => {
    if (entry.symlink)
      return [
        {
          code: "ERR_VERIFY_SYMLINK",
          file: entry.path,
          message: `${entry.path} is a symbolic link`,
          repairable: false,
        },
      ];
    if (EXEMPT.has(entry.path) || expected.has(entry.path)) return [];
    const l = leftoverOf(entry.path);
    if (l) {
      if (reported.has(l)) return [];
      reported.add(l);
      return [leftoverProblem(l, runnerAlive)];
    }
    return [
      {
        code: "ERR_VERIFY_UNEXPECTED_FILE",
        file: entry.path,
        message: `${entry.path} is not named by run.json or the journal`,
        repairable: false,
      },
    ];
  });
}

/**
 * A digest mismatch of a journal-named handoffs/<artifact> that is the copy a reopened packet's
 * registration made before its handoff.registered (`rewrittenHandoff`) is that crash's leftover,
 * repairable: the runner registers the same bytes again and journals them. Replaced in place;
 * returns their paths.
 */
function reworkedHandoffs(
  problems: VerifyProblem[],
  dir: string,
  state: RunState,
  named: ReadonlySet<string>,
  runnerAlive: boolean,
): Set<string> {
  const rewritten = new Set<string>();
  problems.forEach((p, i) => {
    if (p.code !== "ERR_VERIFY_FILE_DIGEST" || !p.file.startsWith("handoffs/")) return;
    const l = rewrittenHandoff(dir, p.file, state, named);
    if (l === null) return;
    problems[i] = leftoverProblem(l, runnerAlive);
    rewritten.add(p.file);
  });
  return rewritten;
}

/** The trusted keys, read once per check (the leftovers and the signatures both need them), or why they cannot be read. */
function trustOf(dir: string, trust: TrustStore | undefined): TrustStore | DwmError {
  try {
    return trustFor(dir, trust);
  } catch (e) {
    if (!isDwmError(e)) throw e;
    return e;
  }
}

/** The signatures' report, or a problem saying the trusted keys could not be read. */
function signaturesOf(
  dir: string,
  events: readonly JournalEvent[],
  keys: TrustStore | DwmError,
  rewritten: ReadonlySet<string>,
  found: ReadonlyMap<string, string>,
) {
  if (!isDwmError(keys)) return verifySignatures(dir, events, keys, rewritten, found);
  const problem: VerifyProblem = {
    code: "ERR_VERIFY_SIGNATURE",
    file: RUN_FILE,
    message: `the trusted keys cannot be read: ${keys.message}`,
    repairable: false,
  };
  return { problems: [problem], signatures: [] };
}

/**
 * Check a run store without writing anything: run.json against the run digest the
 * journal last recorded; the journal's every line (schema, canonical form, digest,
 * seq, chain) and its history (fold); plan.json and scorecard.json against run.json;
 * every packet, prompt and gate of run.json's index; every file a journal event names
 * in `data.files` (sha256 of its bytes; the latest naming of a path wins); no file that
 * nothing names; and every signature (verifySignatures) against `options.trust`, by
 * default the dwm.operators.json of the repository holding the store. Every problem is
 * reported, not just the first.
 */
export function verifyRun(runDir: string, options: { trust?: TrustStore } = {}): VerifyReport {
  return verifyWith(path.resolve(runDir), null, options.trust).report;
}

/**
 * The check every command that changes a run makes first: `verifyRun`'s checks, but a file
 * whose stat is unchanged since it last matched the same expected digest is not hashed again
 * (verify-cache.json, like git's index), nor is the journal prefix verified before. The
 * cache is rewritten when nothing but repairable problems were found. Same report as verifyRun.
 * `nowMs` (tests): when the check runs; a file changed within 2 s of it is not cached.
 */
export function checkStore(
  runDir: string,
  options: { nowMs?: number; trust?: TrustStore } = {},
): VerifyReport {
  return checkStoreFolded(runDir, options).report;
}

/** The store check's report, with the journal it read and its fold (null when the journal is not intact or does not fold). */
export interface StoreCheck {
  report: VerifyReport;
  /** run.json, when it passed its checks (null otherwise: readRun says why). */
  run: Run | null;
  /** digest(run.json), with `run`. */
  runDigest: string | null;
  events: JournalEvent[];
  state: RunState | null;
}

/**
 * `checkStore`, also returning the events it read and the state they fold to: a command that
 * shows the run (status, next) needs not read and fold the journal a second time.
 */
export function checkStoreFolded(
  runDir: string,
  options: { nowMs?: number; trust?: TrustStore } = {},
): StoreCheck {
  const dir = path.resolve(runDir);
  const file = verifyCacheFile(dir);
  const cache = StatCache.load(dir, file, options.nowMs);
  const { report, journal, run, runDigest, events, state } = verifyWith(dir, cache, options.trust);
  if (file !== null && report.problems.every((p) => p.repairable) && journal !== null) {
    try {
      cache.save(file, journal);
    } catch {
      // A cache that cannot be written only costs the next check its speed.
    }
  }
  return { report, run, runDigest, events, state };
}

function verifyWith(
  dir: string,
  cache: StatCache | null,
  trust?: TrustStore,
): {
  report: VerifyReport;
  journal: { seq: number; bytes: Uint8Array } | null;
  run: Run | null;
  runDigest: string | null;
  events: JournalEvent[];
  state: RunState | null;
} {
  const c = new StoreChecker(dir, cache);
  const { run, digest: runDigest, passed } = c.runFile();
  const { scan, intact, state, bytes: journalBytes, stateCache } = checkJournal(c, run, runDigest);
  const expected = run === undefined ? new Map<string, Expected>() : checkCompiledFiles(c, run);
  for (const [rel, e] of filesNamedByJournal(scan.events)) {
    c.bytes(rel, e.digest, e.seq);
    expected.set(rel, e);
  }
  const runnerAlive = runLockHeld(path.join(dir, LOCK_FILE), new Date().toISOString(), os.hostname());
  const rewritten =
    state === null
      ? new Set<string>()
      : reworkedHandoffs(c.problems, dir, state, new Set(expected.keys()), runnerAlive);
  const entries = walk(dir);
  const listed = entries.filter((e) => !e.symlink).map((e) => e.path);
  const keys = trustOf(dir, trust);
  const evidence =
    run === undefined
      ? undefined
      : { events: scan.events, trust: isDwmError(keys) ? new Map() : keys, runId: run.run_id };
  const leftovers = storeLeftovers(dir, state, new Set(expected.keys()), listed, evidence);
  c.problems.push(...strayFileProblems(entries, expected, leftovers, runnerAlive));
  if (run !== undefined)
    c.problems.push(...refLockLeftovers(dir, run.run_id).map((l) => leftoverProblem(l, runnerAlive)));
  const signed = signaturesOf(dir, scan.events, keys, rewritten, c.found);
  c.problems.push(...signed.problems);

  const last = scan.events.at(-1);
  const report: VerifyReport = {
    kind: "verify-report",
    schema_version: "1",
    run_id: run?.run_id ?? null,
    ok: c.problems.length === 0,
    events: scan.lines,
    head: intact && last ? last.digest : null,
    torn: scan.torn !== null,
    files_checked: c.filesChecked,
    state_cache: stateCacheStatusOf(stateCache, last?.seq ?? 0, last?.digest ?? null),
    problems: c.problems,
    signatures: signed.signatures,
  };
  const complete = journalBytes.subarray(0, scan.torn ? scan.torn.offset : journalBytes.length);
  return {
    report,
    journal: intact ? { seq: last?.seq ?? 0, bytes: complete } : null,
    run: passed && run !== undefined ? run : null,
    runDigest: passed ? runDigest : null,
    events: scan.events,
    state,
  };
}
