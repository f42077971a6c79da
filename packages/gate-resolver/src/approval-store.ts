import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  type Digest,
  digestBytes,
  fsyncDir,
  renderArtifact,
  resolveInside,
  type SigningKey,
  type TrustedKey,
  type TrustStore,
} from "@dwm/core";
import type { Approval, JournalEvent } from "@dwm/schemas";
import { approvalPath } from "./resolve-gate.js";
import { type ApprovalProblem, readSignedApproval, signApproval } from "./signed-approval.js";

/** An approval file in the run store. */
export interface StoredApproval {
  /** Run-relative path: approvals/<gate_id>/<n>.json */
  path: string;
  n: number;
  /** sha256 of the file's bytes (what journal events record in `files`). */
  digest: Digest;
}

function numbers(dir: string): number[] {
  try {
    return fs
      .readdirSync(dir)
      .map((f) => /^([1-9][0-9]*)\.json$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Sign an approval with the operator's key and write the signed bundle as
 * approvals/<gate_id>/<n>.json with the next free n: canonical rendering, durable, and
 * never over an existing file (created with a hard link from a temp file, so two writers
 * cannot take the same number).
 */
export function writeApproval(runDir: string, approval: Approval, key: SigningKey): StoredApproval {
  const text = renderArtifact(signApproval(approval, key));
  const dir = resolveInside(runDir, `approvals/${approval.gate_id}`, "approval folder");
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.approval.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    for (let tries = 0; tries < 100; tries++) {
      const n = Math.max(0, ...numbers(dir)) + 1;
      try {
        fs.linkSync(tmp, path.join(dir, `${n}.json`));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw e;
      }
      fsyncDir(dir);
      return { path: approvalPath(approval.gate_id, n), n, digest: digestBytes(text) };
    }
    throw new Error(`could not find a free approval number in ${dir}`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Approval files the journal names: counted (gate.approved / gate.rejected) or refused (approval.refused). */
export function journaledApprovalPaths(events: readonly JournalEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events) {
    if (e.type === "gate.approved" || e.type === "gate.rejected" || e.type === "approval.refused")
      for (const f of e.data.files) out.add(f.path);
  }
  return out;
}

/** An approval file no journal event names yet: written by `dwm approve` while a runner held the lock, or planted. */
export interface PendingApproval {
  path: string;
  /** sha256 of the file's bytes. */
  digest: Digest;
  /** The gate its folder names (approvals/<gate_id>/<n>.json). */
  gateId: string;
  /** The signed approval, when it reads as one (its signer trusted, its signature good), else null. */
  approval: Approval | null;
  signer: TrustedKey | null;
  /** Why it can never count (unsigned, untrusted key, bad signature, misplaced, not canonical), else null. */
  problem: ApprovalProblem | null;
}

/** Files named like approvals (`<n>.json`) anywhere under `root`, relative to it, in directory order. */
function approvalFiles(root: string, rel = ""): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...approvalFiles(root, r));
    else if (e.isFile() && /^[1-9][0-9]*\.json$/.test(e.name)) out.push(r);
  }
  return out;
}

/** What a pending approval file reads as, before its gate is looked at. */
function readApprovalFile(
  text: string,
  trust: TrustStore,
): { approval: Approval | null; signer: TrustedKey | null; problem: ApprovalProblem | null } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      approval: null,
      signer: null,
      problem: { code: "ERR_SIGNATURE_UNSIGNED", message: "not JSON", keyId: null },
    };
  }
  const r = readSignedApproval(value, trust);
  if (!r.ok) return { approval: null, signer: null, problem: r.problem };
  if (renderArtifact(value) !== text) {
    const problem: ApprovalProblem = {
      code: "ERR_GATE_APPROVAL_INVALID",
      message: "the file is not in canonical rendering",
      keyId: r.signer.keyId,
    };
    return { approval: null, signer: null, problem };
  }
  return { approval: r.approval, signer: r.signer, problem: null };
}

/**
 * Whether the file `rel` under `root` (approvals/) can count as an approval: a signed
 * bundle whose signature verifies against a trusted key (readSignedApproval), in canonical
 * rendering, lying where an approval of its gate belongs (approvals/<gate_id>/<n>.json).
 * Otherwise `approval` is null and `problem` says why. Whether it fits its gate as the
 * gate stands now is resolveGate's to say.
 */
export function readPendingApproval(root: string, rel: string, trust: TrustStore): PendingApproval {
  const p = `approvals/${rel}`;
  const bytes = fs.readFileSync(path.join(root, rel));
  const gateId = path.posix.dirname(rel);
  const read = readApprovalFile(bytes.toString("utf8"), trust);
  const base = { path: p, digest: digestBytes(bytes), gateId };
  if (read.approval === null) return { ...base, ...read };
  const expected = approvalPath(read.approval.gate_id, Number(path.posix.basename(rel).slice(0, -5)));
  if (expected !== p) {
    const problem: ApprovalProblem = {
      code: "ERR_GATE_APPROVAL_INVALID",
      message: `${p} is not where an approval of gate ${read.approval.gate_id} belongs`,
      keyId: read.signer?.keyId ?? null,
    };
    return { ...base, approval: null, signer: null, problem };
  }
  return { ...base, ...read };
}

/** Approval paths by gate folder, then by number (2 before 10). */
function byGateThenNumber(a: { path: string }, b: { path: string }): number {
  const key = (p: string): [string, number] => {
    const m = /^(.*)\/([0-9]+)\.json$/.exec(p);
    return [m?.[1] ?? p, Number(m?.[2] ?? 0)];
  };
  const [da, na] = key(a.path);
  const [db, nb] = key(b.path);
  return da < db ? -1 : da > db ? 1 : na - nb;
}

/**
 * Approval files under approvals/ that no journal event names (neither counted nor
 * refused), oldest number first, each read and its signature checked against `trust`
 * (readPendingApproval). The runner checks each readable one against its gate with
 * resolveGate before journaling it, and journals the others as refused. Read-only.
 */
export function pendingApprovals(
  runDir: string,
  events: readonly JournalEvent[],
  trust: TrustStore,
): PendingApproval[] {
  const named = journaledApprovalPaths(events);
  const root = path.join(runDir, "approvals");
  return approvalFiles(root)
    .filter((r) => !named.has(`approvals/${r}`))
    .map((r) => readPendingApproval(root, r, trust))
    .sort(byGateThenNumber);
}
