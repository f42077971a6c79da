import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type Digest, digestBytes, fsyncDir, readArtifact, renderArtifact, resolveInside } from "@dwm/core";
import type { Approval, JournalEvent } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { gateResolverErrors } from "./errors.js";
import { approvalPath } from "./resolve-gate.js";

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
 * Write an approval as approvals/<gate_id>/<n>.json with the next free n: validated,
 * canonical rendering, durable, and never over an existing file (created with a hard
 * link from a temp file, so two writers cannot take the same number).
 */
export function writeApproval(runDir: string, approval: Approval): StoredApproval {
  const v = validateSchema("approval", approval);
  if (!v.ok) {
    throw gateResolverErrors.create(
      "ERR_GATE_APPROVAL_INVALID",
      "refusing to write an approval that does not match its schema",
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  const text = renderArtifact(approval);
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

/** Approval files the journal names (in gate.approved / gate.rejected `files`). */
export function journaledApprovalPaths(events: readonly JournalEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events) {
    if (e.type === "gate.approved" || e.type === "gate.rejected")
      for (const f of e.data.files) out.add(f.path);
  }
  return out;
}

/** An approval file no journal event names yet: written by `dwm approve` while a runner held the lock. */
export interface PendingApproval {
  path: string;
  digest: Digest;
  approval: Approval | null;
  /** Why it cannot be used as it is (unreadable, not canonical, not an approval), else null. */
  problem: string | null;
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

/**
 * Whether the file `rel` under `root` (approvals/) counts as an approval: it must read as
 * one (schema, canonical rendering) and lie where an approval of its gate belongs
 * (approvals/<gate_id>/<n>.json). Otherwise `approval` is null and `problem` says why.
 */
export function readPendingApproval(root: string, rel: string): PendingApproval {
  const p = `approvals/${rel}`;
  const d = digestBytes(fs.readFileSync(path.join(root, rel)));
  try {
    const { value } = readArtifact<Approval>(path.join(root, rel), "approval");
    const expected = approvalPath(value.gate_id, Number(path.posix.basename(rel).slice(0, -5)));
    return {
      path: p,
      digest: d,
      approval: expected === p ? value : null,
      problem: expected === p ? null : `${p} is not where an approval of gate ${value.gate_id} belongs`,
    };
  } catch (err) {
    return { path: p, digest: d, approval: null, problem: (err as Error).message };
  }
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
 * Approval files under approvals/ that no journal event names, oldest number first.
 * The runner validates each with resolveGate before journaling it; anything else under
 * approvals/ stays unexpected (`dwm verify` flags it) and is never counted. Read-only.
 */
export function pendingApprovals(runDir: string, events: readonly JournalEvent[]): PendingApproval[] {
  const named = journaledApprovalPaths(events);
  const root = path.join(runDir, "approvals");
  return approvalFiles(root)
    .filter((r) => !named.has(`approvals/${r}`))
    .map((r) => readPendingApproval(root, r))
    .sort(byGateThenNumber);
}
