import type { Attempt, Packet, Review, ReviewEvidence } from "@dwm/schemas";
import type { ReviewFindingCode } from "../../findings.js";
import { type DiffFile, findTestWeakening, parseDiff, scriptPathsOf } from "../diff.js";
import type { EvidenceReader } from "../evidence.js";
import { Judge, type Judgement, lineExcerpt } from "../judgement.js";
import { coverage, writableOwnership } from "../ownership.js";

/** A change in the diff that may weaken what judges the work. */
interface Suspicion {
  code: ReviewFindingCode;
  path: string;
  message: string;
  lines: string[];
}

/** The script files of the packet's own validation and verification commands; its outputs are its work, never its judges. */
function judgesOf(packet: Packet, attempt: Attempt): Set<string> {
  const judges = new Set<string>();
  for (const c of attempt.checks)
    for (const p of scriptPathsOf(c.argv.length ? c.argv : c.command)) judges.add(p);
  for (const o of packet.outputs)
    if (o.validation_command) for (const p of scriptPathsOf(o.validation_command)) judges.add(p);
  for (const o of packet.outputs) judges.delete(o.artifact.replace(/^\.\//, ""));
  return judges;
}

/** Edits to the scripts that judge this packet's work. */
function findCheckEdits(files: readonly DiffFile[], judges: ReadonlySet<string>): Suspicion[] {
  const out: Suspicion[] = [];
  for (const f of files) {
    for (const p of new Set([f.path, f.oldPath])) {
      if (!judges.has(p)) continue;
      out.push({
        code: "REVIEW_CHECK_EDITED",
        path: p,
        message: `${p}, a script of this packet's own validation or verification, was ${f.status}`,
        lines: [...f.removed.map((l) => `-${l}`), ...f.added.map((l) => `+${l}`)].slice(0, 20),
      });
    }
  }
  return out;
}

/**
 * How much a suspicion weighs: none when a writing worker's ownership names exactly that path,
 * a human's call when only a folder or glob covers it, else a repair.
 */
function judgeSuspicion(s: Suspicion, owned: readonly string[], evidence: ReviewEvidence, j: Judge): void {
  const id = `tests:${s.code}:${s.path}`;
  const cov = coverage(owned, s.path);
  if (cov === "exact") {
    j.check(id, "tests", "pass", `${s.message}; the packet's ownership names ${s.path} exactly`);
  } else if (cov === "broad") {
    j.check(id, "tests", "fail", `${s.message}; covered only by a broader ownership entry`);
    j.find(
      s.code,
      `${s.message}; the packet's ownership covers it only broadly, so a human must judge it`,
      "human",
      [evidence],
    );
  } else {
    j.check(id, "tests", "fail", s.message);
    j.find(s.code, s.message, "repair", [evidence]);
  }
}

function summarise(files: readonly DiffFile[]): NonNullable<Review["diff"]> {
  const rows = files.map((f) => ({
    path: f.status === "deleted" ? f.oldPath : f.path,
    status: f.status,
    added: f.added.length,
    removed: f.removed.length,
  }));
  return {
    files: rows,
    added: rows.reduce((n, r) => n + r.added, 0),
    removed: rows.reduce((n, r) => n + r.removed, 0),
  };
}

/**
 * The classic agent cheats in diff.patch: deleted or weakened tests, skip/only markers, loosened
 * expectations, edited test config, and edits to the scripts that judge this packet. Returns the
 * diff's summary too.
 */
export function checkTestWeakening(
  packet: Packet,
  attempt: Attempt,
  ev: EvidenceReader,
): Judgement & { diff: Review["diff"] } {
  const j = new Judge();
  const diffText = attempt.diff === null ? null : ev.text(attempt.diff);
  if (diffText === null) {
    j.check("tests", "tests", "skipped", "the attempt has no diff");
    return j.done({ diff: null });
  }
  const files = parseDiff(diffText.text);
  const suspicious: Suspicion[] = [
    ...findTestWeakening(files),
    ...findCheckEdits(files, judgesOf(packet, attempt)),
  ];
  if (suspicious.length === 0)
    j.check("tests", "tests", "pass", `${files.length} changed file(s); no test weakening found`);
  const owned = writableOwnership(packet);
  for (const s of suspicious) {
    const evidence = { path: diffText.path, digest: diffText.digest, excerpt: lineExcerpt(s.lines) };
    judgeSuspicion(s, owned, evidence, j);
  }
  return j.done({ diff: summarise(files) });
}
