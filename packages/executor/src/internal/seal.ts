import fs from "node:fs";
import path from "node:path";
import { digestBytes, writeFileAtomic } from "@dwm/core";
import type { AttemptFinding } from "@dwm/schemas";
import type { Redactor } from "./env.js";
import { walkFiles } from "./fs-evidence.js";
import type { CopiedOutput } from "./outputs.js";

/** Evidence files that hold the work itself: a secret found there is the worker's doing, not only output. */
function holdsTheWork(rel: string): boolean {
  return rel === "diff.patch" || rel.startsWith("outputs/");
}

/**
 * A file whose name holds a secret (a worker named a file of its output folder after one) is
 * renamed to the redacted name; returns the name it has now.
 */
function renameRedacted(attemptDir: string, rel: string, redactor: Redactor, notes: string[]): string {
  const clean = redactor.redactText(rel);
  if (clean === rel) return rel;
  const dest = path.join(attemptDir, clean);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.renameSync(path.join(attemptDir, rel), dest);
  notes.push(`an evidence file's name held a secret value: renamed to ${clean}`);
  return clean;
}

// Fields that hold digests, commit ids or evidence paths already made safe: never rewritten.
const KEEP = /digest$|_commit$|^files$/;

/**
 * Every string of a record with the secret values DWM knows replaced, so no file name, finding,
 * note or message carries one into attempt.json, the review or the journal. Digests and
 * commit ids are kept as they are.
 */
export function redactStrings<T>(value: T, redactor: Redactor): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactor.redactText(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, KEEP.test(k) ? x : walk(x)]));
    }
    return v;
  };
  return redactor.size === 0 ? value : (walk(value) as T);
}

/**
 * Make the attempt directory fit to hash: symbolic links removed, every secret value DWM knows
 * redacted from every file and file name (a secret in the work itself is a finding), then the
 * copied outputs' digests and sizes filled in from the redacted bytes.
 */
export function sealEvidence(
  attemptDir: string,
  redactor: Redactor,
  copied: readonly CopiedOutput[],
): { findings: AttemptFinding[]; notes: string[] } {
  const notes: string[] = [];
  const { files: named, removedLinks } = walkFiles(attemptDir);
  for (const l of removedLinks) notes.push(`symbolic link ${l} removed from the evidence`);
  const files = named.map((rel) => renameRedacted(attemptDir, rel, redactor, notes));
  const leaked = new Map<string, string[]>();
  for (const rel of files) {
    const file = path.join(attemptDir, rel);
    const r = redactor.redact(fs.readFileSync(file));
    if (r.hits.length === 0) continue;
    writeFileAtomic(file, r.data);
    if (holdsTheWork(rel)) {
      for (const h of r.hits) leaked.set(h, [...(leaked.get(h) ?? []), rel]);
    } else {
      notes.push(`value of ${r.hits.join(", ")} redacted from ${rel}`);
    }
  }
  const findings: AttemptFinding[] = [...leaked].map(([name, where]) => ({
    code: "secret-in-work",
    message: `the value of ${name} appears in the work (redacted from the evidence; the attempt branch holds it as written)`,
    worker_id: null,
    paths: where,
  }));
  for (const { record, rel } of copied) {
    const data = fs.readFileSync(path.join(attemptDir, redactor.redactText(rel)));
    record.digest = digestBytes(data);
    record.bytes = data.length;
  }
  return { findings, notes };
}
