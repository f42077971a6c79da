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
 * Make the attempt directory fit to hash: symbolic links removed, every secret value DWM knows
 * redacted from every file (a secret in the work itself is a finding), then the copied outputs'
 * digests and sizes filled in from the redacted bytes.
 */
export function sealEvidence(
  attemptDir: string,
  redactor: Redactor,
  copied: readonly CopiedOutput[],
): { findings: AttemptFinding[]; notes: string[] } {
  const notes: string[] = [];
  const { files, removedLinks } = walkFiles(attemptDir);
  for (const l of removedLinks) notes.push(`symbolic link ${l} removed from the evidence`);
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
    const data = fs.readFileSync(path.join(attemptDir, rel));
    record.digest = digestBytes(data);
    record.bytes = data.length;
  }
  return { findings, notes };
}
