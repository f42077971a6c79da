import fs from "node:fs";
import path from "node:path";
import { checkRelativePath, isDwmError, resolveInside } from "@dwm/core";
import type { AttemptFinding, OutputRecord, Packet } from "@dwm/schemas";
import { looksLikePath } from "./ownership.js";

/** A declared output copied into the evidence; its digest and size are filled in once the evidence is redacted. */
export interface CopiedOutput {
  record: OutputRecord;
  rel: string;
}

/** What looking for the declared outputs found. */
export interface CollectedOutputs {
  outputs: OutputRecord[];
  copied: CopiedOutput[];
  /** The declared outputs that are usable relative paths: a packet's own outputs, never an ownership question. */
  declared: Set<string>;
  findings: AttemptFinding[];
  notes: string[];
}

function record(artifact: string, checked: boolean, found: boolean, rel: string | null = null): OutputRecord {
  return { artifact, checked, found, path: rel, digest: null, bytes: null };
}

function missing(artifact: string, message: string): AttemptFinding {
  return { code: "output-missing", message, worker_id: null, paths: [artifact] };
}

/** Look for one declared output that is a path, in the worktree; copy it into `outputs/` when it is a file. */
function collectPath(artifact: string, wt: string, attemptDir: string, into: CollectedOutputs): void {
  let src: string;
  try {
    into.declared.add(checkRelativePath(artifact, "declared output"));
    src = resolveInside(wt, artifact, "declared output");
  } catch (e) {
    if (!isDwmError(e)) throw e;
    into.outputs.push(record(artifact, true, false));
    into.findings.push(missing(artifact, `declared output ${artifact} cannot be read: ${e.message}`));
    return;
  }
  const st = fs.statSync(src, { throwIfNoEntry: false });
  if (st?.isFile()) {
    const rel = `outputs/${checkRelativePath(artifact)}`;
    const dest = path.join(attemptDir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    const r = record(artifact, true, true, rel);
    into.outputs.push(r);
    into.copied.push({ record: r, rel });
  } else if (st?.isDirectory()) {
    into.outputs.push(record(artifact, true, true));
    into.notes.push(`output ${artifact} is a directory: its files are in diff.patch`);
  } else {
    into.outputs.push(record(artifact, true, false));
    into.findings.push(missing(artifact, `declared output ${artifact} was not produced`));
  }
}

/**
 * The packet's declared outputs, looked for in the worktree and copied into the evidence with their
 * bytes. A missing or unreadable one is a finding; one that is prose, not a path, is not looked for.
 */
export function collectOutputs(
  declared: Packet["outputs"],
  wt: string,
  attemptDir: string,
): CollectedOutputs {
  const into: CollectedOutputs = { outputs: [], copied: [], declared: new Set(), findings: [], notes: [] };
  for (const o of declared) {
    if (looksLikePath(o.artifact)) {
      collectPath(o.artifact, wt, attemptDir, into);
      continue;
    }
    into.outputs.push(record(o.artifact, false, false));
    into.notes.push(`output ${JSON.stringify(o.artifact)} is prose, not a path: not looked for`);
  }
  return into;
}
