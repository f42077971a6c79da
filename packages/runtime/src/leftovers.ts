import fs from "node:fs";
import path from "node:path";
import { digestBytes, openStatement, pidAlive, refSegment, type TrustStore } from "@dwm/core";
import type { JournalEvent, RunState, VerifyProblem } from "@dwm/schemas";
import { unfinishedPackets } from "./internal/fold-run.js";

/**
 * What a crashed process leaves that nothing names, and that is not tampering:
 * - `temp-file`: the temporary file of an atomic write (`.<name>.<pid>.<hex>.tmp`, core's
 *   writeFileAtomic) or a lock moved aside (`lock.stale.<hex>`, core's acquireLock);
 * - `attempt`: files of the attempt a packet was dispatched for and that the journal has not
 *   recorded yet (attempts/<p>/<n>/…, reviews/<p>/<n>.json and the reviewer's reviews/<p>/<n>.reviewer/…
 *   of an attempt not reviewed yet, and handoffs/<artifact> copied for a packet reviewed but not
 *   completed yet: only an artifact that packet declares as a handoff, byte for byte the output
 *   its latest attempt recorded, whether the copy is new or written over one the journal named
 *   for an earlier completion);
 * - `approval`: an approval of a gate not decided yet, written while a runner held
 *   the lock (or by an approve that failed before journaling it); the runner checks it again
 *   and journals it, or refuses it;
 * - `attestation`: the signed attestation of a completed packet (or of the run about to
 *   complete), written just before the `attestation.recorded` event that names it: only at the
 *   path the next attestation of a completion not attested yet takes, signed by a trusted key
 *   over a statement of that packet, attempt and run;
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

/** What a leftover's content is checked against: the (intact) journal's events, the trusted keys, the run. */
export interface LeftoverEvidence {
  events: readonly JournalEvent[];
  trust: TrustStore;
  runId: string;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function fileDigest(file: string): string | null {
  try {
    return digestBytes(fs.readFileSync(file));
  } catch {
    return null;
  }
}

type Output = { artifact?: unknown; format?: unknown; required_fields?: unknown[] };

/**
 * The digest handoff `artifact` of packet `id` must have when attempt `n` copies it: the packet
 * (named, so digest-checked) declares it as a handoff, and the attempt's record (named by
 * attempt.recorded) holds the output found for it. Null when that attempt copies no such handoff.
 */
function recordedHandoff(
  runDir: string,
  id: string,
  n: number,
  artifact: string,
  named: ReadonlySet<string>,
): string | null {
  const packetRel = `packets/${id}.json`;
  const recordRel = `attempts/${id}/${n}/attempt.json`;
  if (!named.has(packetRel) || !named.has(recordRel)) return null;
  const packet = readJson(path.join(runDir, packetRel)) as { outputs?: Output[] } | null;
  const declared = (packet?.outputs ?? []).some(
    (o) => o.artifact === artifact && (o.format !== undefined || (o.required_fields?.length ?? 0) > 0),
  );
  if (!declared) return null;
  const record = readJson(path.join(runDir, recordRel)) as {
    outputs?: { artifact?: unknown; found?: unknown; digest?: unknown }[];
  } | null;
  const out = (record?.outputs ?? []).find((o) => o.artifact === artifact && o.found === true);
  return typeof out?.digest === "string" ? out.digest : null;
}

/**
 * Is `rel` (handoffs/<artifact>) the copy a packet between its review and its completion makes
 * before the events naming it (ingest-review for an attempted packet, the gate resolver for a
 * reviewed one): an artifact that packet declares as a handoff, with exactly the bytes its latest
 * attempt recorded for it. A file under handoffs/ of any other name, content or moment is no
 * crash's: a worker let out of its sandbox could plant one for a later reader.
 */
function copiedHandoff(runDir: string, rel: string, state: RunState, named: ReadonlySet<string>): boolean {
  if (!rel.startsWith("handoffs/")) return false;
  const artifact = rel.slice("handoffs/".length);
  let actual: string | null | undefined;
  for (const [id, p] of Object.entries(state.packets)) {
    if (p?.state !== "attempted" && p?.state !== "reviewed") continue;
    const expected = recordedHandoff(runDir, id, p.attempts, artifact, named);
    if (expected === null) continue;
    actual ??= fileDigest(path.join(runDir, rel));
    if (actual === expected) return true;
  }
  return false;
}

/**
 * Is the journal-named `rel` (handoffs/<artifact>), whose bytes no longer have the digest the
 * journal recorded, the copy a reopened packet's registration writes over the old one just before
 * its new handoff.registered: the same rule as an unnamed copy (`copiedHandoff`: a packet
 * attempted or reviewed again declares it, and these are exactly the bytes its latest attempt
 * recorded). The old bytes stay in the earlier attempt's evidence. Anything else is tampering.
 */
export function rewrittenHandoff(
  runDir: string,
  rel: string,
  state: RunState,
  named: ReadonlySet<string>,
): Leftover | null {
  if (!copiedHandoff(runDir, rel, state, named)) return null;
  return { kind: "attempt", path: rel, file: path.join(runDir, rel), pid: null };
}

/**
 * The k of the attestation the attestor writes next for packet `id`'s attempt `n`
 * (attestations/packets/<id>/<n>[-k].json), or null when no completion of it waits for one.
 */
function nextPacketAttestation(events: readonly JournalEvent[], id: string, n: number): number | null {
  let due = false;
  let attested = 0;
  for (const e of events) {
    if (e.type === "packet.completed" && e.data.packet_id === id && e.data.attempt === n) due = true;
    else if (
      e.type === "attestation.recorded" &&
      e.data.subject === "packet" &&
      e.data.packet_id === id &&
      (e.data.attempt ?? 0) === n
    ) {
      due = false;
      attested++;
    }
  }
  return due ? attested + 1 : null;
}

/** A signed bundle at `file` that opens with a trusted key, of `predicateType`, whose predicate has `fields`. */
function signedBy(
  file: string,
  trust: TrustStore,
  predicateType: string,
  fields: Record<string, unknown>,
): boolean {
  const value = readJson(file);
  if (value === null) return false;
  const r = openStatement(value, trust);
  if (!r.ok || r.value.statement.predicateType !== predicateType) return false;
  const predicate = r.value.statement.predicate as Record<string, unknown>;
  return Object.entries(fields).every(([k, v]) => predicate[k] === v);
}

const PACKET_ATTESTATION = /^attestations\/packets\/(.+)\/([1-9][0-9]*)(?:-([0-9]+))?\.json$/;
const RUN_ATTESTATION = /^attestations\/run\/([1-9][0-9]*)\.json$/;

/**
 * Is `rel` the attestation a runner signed and wrote just before journaling it: at the very path
 * the next attestation of a completion not attested yet takes (a packet's next k, or the run's
 * next number while every packet is done and run.completed is not journaled yet), signed by a
 * trusted key over a statement naming that packet, attempt and run. The next runner signs its
 * own and writes it over this one.
 */
function pendingAttestation(runDir: string, rel: string, state: RunState, ev: LeftoverEvidence): boolean {
  const file = path.join(runDir, rel);
  const m = PACKET_ATTESTATION.exec(rel);
  if (m) {
    const id = m[1] as string;
    const n = Number(m[2]);
    const k = nextPacketAttestation(ev.events, id, n);
    if (k === null || rel !== `attestations/packets/${id}/${n}${k > 1 ? `-${k}` : ""}.json`) return false;
    return signedBy(file, ev.trust, "https://dwm.dev/attestations/packet/v1", {
      kind: "packet-attestation",
      run_id: ev.runId,
      packet_id: id,
      attempt: n,
    });
  }
  const r = RUN_ATTESTATION.exec(rel);
  if (!r || state.completed || unfinishedPackets(state).length > 0) return false;
  const runs = ev.events.filter((e) => e.type === "attestation.recorded" && e.data.subject === "run").length;
  if (Number(r[1]) !== runs + 1) return false;
  return signedBy(file, ev.trust, "https://dwm.dev/attestations/run/v1", {
    kind: "run-attestation",
    run_id: ev.runId,
  });
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

/**
 * Temp files anywhere in the store, and files of attempts the state says are in flight (named:
 * files run.json and the journal name; a handoff copy is checked against the attempt record they
 * name). An attestation passes for a leftover only with `evidence` to check it against.
 */
export function storeLeftovers(
  runDir: string,
  state: RunState | null,
  named: ReadonlySet<string> = new Set(),
  /** The store's files when the caller listed them already (else they are listed here). */
  listed?: readonly string[],
  evidence?: LeftoverEvidence,
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
    if (state && evidence && pendingAttestation(runDir, rel, state, evidence)) {
      out.set(rel, { kind: "attestation", path: rel, file: path.join(runDir, rel), pid: null });
      continue;
    }
    if (state && copiedHandoff(runDir, rel, state, named)) {
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
