import fs from "node:fs";
import path from "node:path";
import { pidAlive, refSegment } from "@dwm/core";
import type { RunState, VerifyProblem } from "@dwm/schemas";

/**
 * What a crashed process leaves that nothing names, and that is not tampering:
 * - `temp-file`: the temporary file of an atomic write (`.<name>.<pid>.<hex>.tmp`, core's
 *   writeFileAtomic) or a lock moved aside (`lock.stale.<hex>`, core's acquireLock);
 * - `attempt`: files of the attempt a packet was dispatched for and that the journal has not
 *   recorded yet (attempts/<p>/<n>/…, reviews/<p>/<n>.json and the reviewer's reviews/<p>/<n>.reviewer/…
 *   of an attempt not reviewed yet, and handoffs/… copied for a packet reviewed but not completed yet);
 * - `approval`: an approval of a gate not decided yet, written while a runner held
 *   the lock (or by an approve that failed before journaling it); the runner checks it again
 *   and journals it, or refuses it;
 * - `attestation`: the signed attestation of a completed packet (or of the completed run),
 *   written just before the `attestation.recorded` event that names it;
 * - `ref-lock`: git's `<ref>.lock` of a ref DWM owns for this run (its integration branch under
 *   refs/heads/dwm/<run>/, its attempts' refs under refs/dwm/<run>/).
 * While a runner holds the run lock these are its work in progress; once it is dead they are
 * leftovers that `dwm run` recovers.
 */
export interface Leftover {
  kind: "temp-file" | "attempt" | "approval" | "attestation" | "ref-lock";
  /** Run-relative path (temp-file, attempt); the ref (ref-lock). */
  path: string;
  /** Absolute path of the file (temp-file, ref-lock) or folder (attempt). */
  file: string;
  /** The writer's pid, where the file's name tells it. */
  pid: number | null;
}

const TEMP = /^\..+\.([0-9]+)\.[0-9a-f]{8}\.tmp$/;
const LOCK_ASIDE = /^lock\.stale\.[0-9a-f]{8}$/;

/** Is `name` the name of a temp file or moved-aside lock; its writer's pid when the name has one. */
export function tempFileOf(name: string): { pid: number | null } | null {
  const m = TEMP.exec(name);
  if (m) return { pid: Number(m[1]) };
  return LOCK_ASIDE.test(name) ? { pid: null } : null;
}

/** Every regular file under `dir`, relative POSIX paths (symlinks are left to verify). */
function files(dir: string, rel = ""): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return files(dir, r);
    return e.isFile() ? [r] : [];
  });
}

/**
 * What the state says is being written and not recorded yet: the folder of each dispatched
 * attempt (attempts/<p>/<n>), the review of each attempted one (reviews/<p>/<n>.json) and its
 * refuting reviewer's own attempt (reviews/<p>/<n>.reviewer/, which packet.reviewed names; a
 * resumed review starts it again from an empty folder).
 * Packet ids may hold `/` (fan-out items), so these are matched as prefixes.
 */
function inFlight(state: RunState): string[] {
  return Object.entries(state.packets).flatMap(([id, p]) => {
    if (p?.state === "dispatched") return [`attempts/${id}/${p.attempts}`];
    if (p?.state === "attempted")
      return [`reviews/${id}/${p.attempts}.json`, `reviews/${id}/${p.attempts}.reviewer`];
    return [];
  });
}

/**
 * Is a packet between its review and its completion: its handoffs are copied into handoffs/
 * before the event that names them (ingest-review for an attempted packet, the gate
 * resolver for a reviewed one), so a crash there leaves a handoff nothing names yet.
 */
function copyingHandoffs(state: RunState): boolean {
  return Object.values(state.packets).some((p) => p?.state === "attempted" || p?.state === "reviewed");
}

/** An attestation file of a completed packet (attestations/packets/<p>/<n>[-k].json) or of a completed run (attestations/run/<n>.json). */
function attesting(rel: string, state: RunState): boolean {
  const m = /^attestations\/packets\/(.+)\/[1-9][0-9]*(-[0-9]+)?\.json$/.exec(rel);
  if (m) return state.packets[m[1] as string]?.state === "completed";
  return /^attestations\/run\/[0-9]+\.json$/.test(rel) && state.completed === true;
}

/**
 * An approval file (approvals/<gate>/<n>.json) of a gate of the run, which the next runner
 * decides: it counts it (a gate not decided yet: closed or open) or journals it as refused
 * (approval.refused: a gate approved, rejected or superseded since the file was written, which
 * it can never count). Two decisions `dwm approve`/`reject` wrote while a runner held the lock,
 * or a rejection that superseded a gate, leave such files; they are never unexpected files.
 */
function pendingApproval(rel: string, state: RunState): boolean {
  const m = /^approvals\/(.+)\/[1-9][0-9]*\.json$/.exec(rel);
  return m !== null && state.gates[m[1] as string] !== undefined;
}

/** Temp files anywhere in the store, and files of attempts the state says are in flight (named: files the journal names). */
export function storeLeftovers(
  runDir: string,
  state: RunState | null,
  named: ReadonlySet<string> = new Set(),
  /** The store's files when the caller listed them already (else they are listed here). */
  listed?: readonly string[],
): Leftover[] {
  const out = new Map<string, Leftover>();
  const flying = state ? inFlight(state) : [];
  for (const rel of listed ?? files(runDir)) {
    if (named.has(rel)) continue;
    const temp = tempFileOf(path.posix.basename(rel));
    if (temp) {
      out.set(rel, { kind: "temp-file", path: rel, file: path.join(runDir, rel), pid: temp.pid });
      continue;
    }
    if (state && pendingApproval(rel, state)) {
      out.set(rel, { kind: "approval", path: rel, file: path.join(runDir, rel), pid: null });
      continue;
    }
    if (state && attesting(rel, state)) {
      out.set(rel, { kind: "attestation", path: rel, file: path.join(runDir, rel), pid: null });
      continue;
    }
    if (state && rel.startsWith("handoffs/") && copyingHandoffs(state)) {
      out.set(rel, { kind: "attempt", path: rel, file: path.join(runDir, rel), pid: null });
      continue;
    }
    const attempt = flying.find((f) => rel === f || rel.startsWith(`${f}/`));
    if (attempt && !out.has(attempt))
      out.set(attempt, { kind: "attempt", path: attempt, file: path.join(runDir, attempt), pid: null });
  }
  return [...out.values()];
}

/** The git common directory of the repository around `from` (a worktree's `.git` file is followed). */
export function gitCommonDir(from: string): string | null {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const dotGit = path.join(dir, ".git");
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(dotGit);
    } catch {
      // not here
    }
    if (st?.isDirectory()) return dotGit;
    if (st?.isFile()) return commonDirOfWorktree(dir, dotGit);
    if (path.dirname(dir) === dir) return null;
  }
}

function commonDirOfWorktree(dir: string, dotGit: string): string | null {
  const m = /^gitdir: (.+)$/m.exec(fs.readFileSync(dotGit, "utf8"));
  if (!m) return null;
  const gitDir = path.resolve(dir, (m[1] as string).trim());
  try {
    return path.resolve(gitDir, fs.readFileSync(path.join(gitDir, "commondir"), "utf8").trim());
  } catch {
    return gitDir;
  }
}

/** How long git's lock of a ref the runner does not write alone may be another process's live one. */
const REF_LOCK_LEASE_MS = 30_000;

/**
 * Refs of the run only the run lock's holder writes: its integration branch and its own
 * attempts' refs (refs/dwm/<run>/attempts/…/<n>). `dwm exec` (…/exec-<n>) and a queue's workers
 * (refs/dwm/<run>/<instance>/…) write the others without the run lock.
 */
function writtenUnderRunLock(ref: string): boolean {
  if (ref.startsWith("refs/heads/dwm/")) return true;
  return /^refs\/dwm\/[^/]+\/attempts\/.+\/[1-9][0-9]*$/.test(ref);
}

/**
 * git lock files of the refs DWM owns for run `runId` in the repository around `runDir`: its
 * integration branch (refs/heads/dwm/<run>/…) and its attempts' refs (refs/dwm/<run>/…, the
 * executor's runRefPrefix).
 */
export function refLockLeftovers(runDir: string, runId: string): Leftover[] {
  const common = gitCommonDir(runDir);
  if (common === null) return [];
  const segment = refSegment(runId);
  return [`refs/heads/dwm/${segment}`, `refs/dwm/${segment}`].flatMap((base) => {
    const root = path.join(common, ...base.split("/"));
    const locks = files(root).filter((r) => r.endsWith(".lock"));
    return locks.map((r) => ({
      kind: "ref-lock" as const,
      path: `${base}/${r.slice(0, -".lock".length)}`,
      file: path.join(root, r),
      pid: null,
    }));
  });
}

/**
 * Does a live process hold the run lock at `lockFile`? A holder on this host is alive while its
 * process is; one on another host while its lease runs; an empty or partial lock file is being
 * written (held) until it is older than a lease. No lock file: nobody.
 */
export function runLockHeld(lockFile: string, now: string, host: string, leaseMs = 30_000): boolean {
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(lockFile, "utf8");
    mtimeMs = fs.statSync(lockFile).mtimeMs;
  } catch {
    return false;
  }
  // Being written (core acquireLock's rule): held until it is older than a lease.
  const beingWritten = mtimeMs + leaseMs > Date.parse(now);
  try {
    const info = JSON.parse(text) as { pid?: unknown; host?: unknown; expires_at?: unknown };
    if (typeof info.pid !== "number") return beingWritten;
    if (info.host === host) return pidAlive(info.pid);
    return typeof info.expires_at === "string" && Date.parse(info.expires_at) > Date.parse(now);
  } catch {
    return beingWritten;
  }
}

/**
 * Is the writer of a leftover still at work: a temp file's own pid; git's lock of a ref written
 * without the run lock (`dwm exec`'s, a queue worker's) while it is younger than a lease (git
 * holds one for an instant); else the run lock's holder.
 */
export function leftoverLive(l: Leftover, runnerAlive: boolean): boolean {
  if (l.kind === "temp-file") return l.pid !== null && l.pid !== process.pid && pidAlive(l.pid);
  if (l.kind === "ref-lock" && !writtenUnderRunLock(l.path) && !runnerAlive) {
    try {
      return Date.now() - fs.statSync(l.file).mtimeMs < REF_LOCK_LEASE_MS;
    } catch {
      return false;
    }
  }
  return runnerAlive;
}

/** The verify problem of a leftover (repairable: `dwm run` recovers it). */
export function leftoverProblem(l: Leftover, runnerAlive: boolean): VerifyProblem {
  const code = {
    "temp-file": "ERR_VERIFY_LEFTOVER_TEMP",
    attempt: "ERR_VERIFY_LEFTOVER_ATTEMPT",
    approval: "ERR_VERIFY_PENDING_APPROVAL",
    attestation: "ERR_VERIFY_LEFTOVER_ATTESTATION",
    "ref-lock": "ERR_VERIFY_LEFTOVER_REF_LOCK",
  }[l.kind];
  const what = {
    "temp-file": `${l.path} is the temporary file of an atomic write${l.pid === null ? "" : ` by pid ${l.pid}`}`,
    attempt: `${l.path} holds an attempt the journal has not recorded yet`,
    approval: `${l.path} is an approval the journal has not recorded yet`,
    attestation: `${l.path} is an attestation the journal has not recorded yet`,
    "ref-lock": `git's lock of ${l.path} is held`,
  }[l.kind];
  const then = leftoverLive(l, runnerAlive)
    ? "its writer is still at work"
    : "a crash left it; `dwm run` recovers it";
  return {
    code,
    file: l.kind === "ref-lock" ? `${l.path}.lock` : l.path,
    message: `${what}: ${then}`,
    repairable: true,
  };
}
