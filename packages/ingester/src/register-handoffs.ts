import fs from "node:fs";
import { digestBytes, resolveInside, writeFileAtomic } from "@dwm/core";
import { ingesterErrors } from "./errors.js";
import type { HandoffCopy } from "./ingest-review.js";

/**
 * Copy handoff files into the run's handoffs/ before the events that name them are
 * appended: each source is read from the run directory, checked against its digest,
 * and written atomically. Idempotent (a crash before the append only repeats copies).
 */
export function registerHandoffs(runDir: string, copies: readonly HandoffCopy[]): void {
  for (const c of copies) {
    const from = resolveInside(runDir, c.from, "handoff source");
    const to = resolveInside(runDir, c.to, "handoff target");
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(from);
    } catch (e) {
      throw ingesterErrors.create("ERR_INGEST_HANDOFF_DIGEST", `handoff source ${c.from} cannot be read`, {
        details: { from: c.from },
        cause: e,
      });
    }
    const d = digestBytes(bytes);
    if (d !== c.digest) {
      throw ingesterErrors.create(
        "ERR_INGEST_HANDOFF_DIGEST",
        `${c.from} has digest ${d}, its review recorded ${c.digest}`,
        {
          details: { from: c.from, expected: c.digest, actual: d },
        },
      );
    }
    writeFileAtomic(to, bytes);
  }
}
