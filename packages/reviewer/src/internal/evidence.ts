import fs from "node:fs";
import { type Digest, digestBytes, resolveInside } from "@dwm/core";
import type { Attempt, ReviewEvidence } from "@dwm/schemas";
import { reviewerErrors } from "../errors.js";

/** Bounds of an excerpt quoted into a review or a repair prompt. */
export const EXCERPT_LINES = 40;
export const EXCERPT_CHARS = 4000;

/** The last lines of a text, bounded in lines and characters. */
export function tail(text: string, lines = EXCERPT_LINES, chars = EXCERPT_CHARS): string {
  const all = text.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
  let out = all.slice(-lines).join("\n");
  if (out.length > chars) out = out.slice(out.length - chars);
  return all.length > lines || out.length < all.join("\n").length ? `…\n${out}` : out;
}

/** Read-only access to an attempt directory: every file read is checked against attempt.files. */
export class EvidenceReader {
  private readonly listed: Map<string, { digest: string; bytes: number }>;
  constructor(
    readonly attemptDir: string,
    attempt: Attempt,
  ) {
    this.listed = new Map(attempt.files.map((f) => [f.path, { digest: f.digest, bytes: f.bytes }]));
  }

  /** True when attempt.json lists this path among its files. */
  has(rel: string): boolean {
    return this.listed.has(rel);
  }

  /** The bytes of a listed file, after checking its digest. */
  read(rel: string): { bytes: Buffer; digest: Digest } {
    const entry = this.listed.get(rel);
    if (!entry) {
      throw reviewerErrors.create(
        "ERR_REVIEW_EVIDENCE_MISSING",
        `evidence ${JSON.stringify(rel)} is not listed in attempt.json`,
        { details: { path: rel } },
      );
    }
    const file = resolveInside(this.attemptDir, rel, "evidence path");
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      throw reviewerErrors.create("ERR_REVIEW_EVIDENCE_MISSING", `evidence ${rel} cannot be read`, {
        details: { path: rel },
        cause: e,
      });
    }
    const d = digestBytes(bytes);
    if (d !== entry.digest) {
      throw reviewerErrors.create(
        "ERR_REVIEW_EVIDENCE_DIGEST",
        `evidence ${rel} has digest ${d}, attempt.json records ${entry.digest}`,
        { details: { path: rel, expected: entry.digest, actual: d } },
      );
    }
    return { bytes, digest: d };
  }

  /**
   * Text an attempt field refers to: the listed file when the field names one,
   * otherwise the field's own text (inline output).
   */
  text(ref: string | null): { text: string; path: string | null; digest: Digest | null } | null {
    if (ref === null) return null;
    if (this.listed.has(ref)) {
      const r = this.read(ref);
      return { text: r.bytes.toString("utf8"), path: ref, digest: r.digest };
    }
    return { text: ref, path: null, digest: null };
  }

  /** Evidence pointing at the tail of a text field (stdout/stderr of a check or invocation). */
  tailEvidence(ref: string | null): ReviewEvidence | null {
    const t = this.text(ref);
    if (!t || t.text.trim() === "") return null;
    return { path: t.path, digest: t.digest, excerpt: tail(t.text) };
  }
}
