import { checkRelativePath, type Digest } from "@dwm/core";
import type { Attempt, Packet, PacketOutput, ReviewEvidence, ReviewHandoff } from "@dwm/schemas";
import { reviewerErrors } from "../../errors.js";
import { type EvidenceReader, tail } from "../evidence.js";
import { checkHandoff, type ItemProblem } from "../handoff.js";
import { Judge, type Judgement } from "../judgement.js";

/** A declared output's file, read from the evidence and found non-empty. */
interface OutputFile {
  path: string;
  digest: Digest;
  bytes: Buffer;
  text: string;
}

function isSafeRelative(p: string): boolean {
  try {
    return checkRelativePath(p, "handoff artifact") === p;
  } catch {
    return false;
  }
}

function isHandoff(out: PacketOutput): boolean {
  return out.format !== undefined || (out.required_fields?.length ?? 0) > 0;
}

/** An output's digest-checked bytes; a file that differs from its output record is an integrity error. */
function readOutput(artifact: string, rel: string, recorded: string, ev: EvidenceReader) {
  const file = ev.read(rel);
  if (file.digest !== recorded) {
    throw reviewerErrors.create(
      "ERR_REVIEW_EVIDENCE_DIGEST",
      `output ${artifact} at ${rel} has digest ${file.digest}, its output record says ${recorded}`,
      { details: { path: rel, expected: recorded, actual: file.digest } },
    );
  }
  return file;
}

/**
 * Whether the output is there: recorded, looked for, found as a non-empty file. Returns the file,
 * or null when there is nothing further to check (the check and any finding are in `j`).
 */
function presentOutput(out: PacketOutput, attempt: Attempt, ev: EvidenceReader, j: Judge): OutputFile | null {
  const rec = attempt.outputs.find((o) => o.artifact === out.artifact);
  const id = `output:${out.artifact}`;
  if (!rec) {
    j.check(id, "output", "fail", "the attempt has no record of this declared output");
    j.find("REVIEW_MISSING_OUTPUT", `declared output ${out.artifact} was not looked for`, "repair");
    return null;
  }
  if (!rec.checked) {
    j.check(
      id,
      "output",
      "skipped",
      "the declared output is a description, not a path; it cannot be looked for",
    );
    return null;
  }
  j.falsifiers++;
  if (rec.found && rec.path === null) {
    j.check(id, "output", "pass", "a directory; its files are in diff.patch");
    if (isHandoff(out)) {
      j.find(
        "REVIEW_HANDOFF_FORMAT",
        `handoff ${out.artifact} is a directory; a handoff artifact must be a file`,
        "repair",
      );
    }
    return null;
  }
  if (!rec.found || rec.path === null || rec.digest === null) {
    j.check(id, "output", "fail", "not found");
    j.find("REVIEW_MISSING_OUTPUT", `declared output ${out.artifact} was not produced`, "repair");
    return null;
  }
  const file = readOutput(out.artifact, rec.path, rec.digest, ev);
  const text = file.bytes.toString("utf8");
  if (text.trim() === "") {
    j.check(id, "output", "fail", "empty");
    j.find("REVIEW_EMPTY_OUTPUT", `declared output ${out.artifact} is empty`, "repair", [
      { path: rec.path, digest: file.digest, excerpt: null },
    ]);
    return null;
  }
  j.check(id, "output", "pass", `${file.bytes.length} bytes`);
  return { path: rec.path, digest: file.digest, bytes: file.bytes, text };
}

/** How many offending items of a list a finding quotes; the rest are counted. */
const ITEMS_QUOTED = 5;

/** The evidence of a handoff finding: each offending item of a list (bounded), else the file's tail. */
function handoffEvidence(file: OutputFile, items: readonly ItemProblem[]): ReviewEvidence[] {
  if (items.length === 0)
    return [{ path: file.path, digest: file.digest, excerpt: tail(file.text, 20, 1500) }];
  const quoted = items.slice(0, ITEMS_QUOTED).map((p) => {
    const what = p.notObject ? "is not a JSON object" : `lacks ${p.missing.join(", ")}`;
    return { path: file.path, digest: file.digest, excerpt: `${p.at} ${what}:\n${p.excerpt}` };
  });
  const more = items.length - quoted.length;
  const last = quoted[quoted.length - 1];
  if (more > 0 && last) last.excerpt += `\n(and ${more} more item${more === 1 ? "" : "s"} like it)`;
  return quoted;
}

/** A handoff in its format with its required fields; returns it for registration when it passes. */
function checkHandoffFile(out: PacketOutput, file: OutputFile, j: Judge): ReviewHandoff | null {
  const hc = checkHandoff(out.format, file.text, out.required_fields ?? []);
  const hid = `handoff:${out.artifact}`;
  const evidence = handoffEvidence(file, hc.items);
  if (hc.formatError) {
    j.check(hid, "handoff", "fail", hc.formatError);
    j.find(
      "REVIEW_HANDOFF_FORMAT",
      `handoff ${out.artifact} is not valid ${out.format}: ${hc.formatError}`,
      "repair",
      evidence,
    );
    return null;
  }
  if (hc.missing.length > 0) {
    const where = hc.items.length > 0 ? ` in ${hc.items.length} item${hc.items.length === 1 ? "" : "s"}` : "";
    j.check(
      hid,
      "handoff",
      "fail",
      `missing required fields${where}: ${hc.missing.join(", ")} (${hc.method})`,
    );
    j.find(
      "REVIEW_HANDOFF_FIELDS_MISSING",
      `handoff ${out.artifact} lacks required field(s) ${hc.missing.join(", ")}`,
      "repair",
      evidence,
    );
    return null;
  }
  j.check(hid, "handoff", "pass", `${out.format ?? "text"}; required fields present (${hc.method})`);
  if (!isSafeRelative(out.artifact)) return null;
  return { artifact: out.artifact, path: file.path, digest: file.digest, bytes: file.bytes.length };
}

/** An output with a validation_command must have a recorded result of it; DWM runs it, never the worker. */
function checkValidationRan(out: PacketOutput, attempt: Attempt, j: Judge): void {
  if (out.validation_command === undefined) return;
  if (attempt.checks.some((c) => c.kind === "validation" && c.source === out.artifact)) return;
  j.check(`validation:${out.artifact}`, "validation", "fail", "the validation command was not run");
  j.find(
    "REVIEW_CHECK_NOT_RUN",
    `the validation command of ${out.artifact} (${out.validation_command}) has no recorded result`,
    "human",
  );
}

/**
 * Declared outputs present and non-empty; handoff artifacts in their format with their
 * required fields (those that pass are returned for registration); validation results recorded.
 */
export function checkOutputs(
  packet: Packet,
  attempt: Attempt,
  ev: EvidenceReader,
): Judgement & { handoffs: ReviewHandoff[] } {
  const j = new Judge();
  const handoffs: ReviewHandoff[] = [];
  for (const out of packet.outputs) {
    const file = presentOutput(out, attempt, ev, j);
    if (file === null) continue;
    const handoff = isHandoff(out) ? checkHandoffFile(out, file, j) : null;
    if (handoff !== null) handoffs.push(handoff);
    checkValidationRan(out, attempt, j);
  }
  return j.done({ handoffs });
}
