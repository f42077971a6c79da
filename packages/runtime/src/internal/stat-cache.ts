import fs from "node:fs";
import path from "node:path";
import { type Digest, digestBytes, writeArtifact } from "@dwm/core";
import type { VerifyCache } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";

type Entry = VerifyCache["files"][string];

/** A change within this many ns of the check may not move mtime/ctime yet (git's "racily clean"). */
const RACY_NS = 2_000_000_000n;

function statOf(file: string): fs.BigIntStats | null {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    return st.isFile() ? st : null;
  } catch {
    return null;
  }
}

/**
 * The store check's cache of verified files, like git's index: a file whose size, mtime,
 * ctime and inode are what they were when its bytes last matched the same expected digest
 * is not hashed again. Nothing else is taken from it; a cache that does not read as one is
 * no cache. `dwm verify` never uses it.
 */
export class StatCache {
  private readonly next = new Map<string, Digest>();

  private constructor(
    private readonly runDir: string,
    private readonly old: VerifyCache | null,
    private readonly startedNs: bigint,
  ) {}

  /** The cache at `file` (absolute; none when missing or unreadable); `nowMs`: when this check started. */
  static load(runDir: string, file: string | null, nowMs = Date.now()): StatCache {
    let old: VerifyCache | null = null;
    try {
      const v = JSON.parse(fs.readFileSync(file ?? "", "utf8")) as unknown;
      if (validateSchema("verify-cache", v).ok) old = v as VerifyCache;
    } catch {
      old = null;
    }
    return new StatCache(runDir, old, BigInt(Math.floor(nowMs)) * 1_000_000n);
  }

  /** Is `rel` unchanged since its bytes were found to have `expected`? */
  fresh(rel: string, expected: string): boolean {
    const e: Entry | undefined = this.old?.files[rel];
    if (e === undefined || e.digest !== expected) return false;
    const st = statOf(path.join(this.runDir, rel));
    return (
      st !== null &&
      String(st.size) === String(e.size) &&
      String(st.mtimeNs) === e.mtime_ns &&
      String(st.ctimeNs) === e.ctime_ns &&
      String(st.ino) === e.ino
    );
  }

  /** `rel` was found (now, or fresh from the cache) to have `digest`. */
  verified(rel: string, digest: string): void {
    this.next.set(rel, digest as Digest);
  }

  /** How many leading bytes of the journal were verified before and are unchanged (0: none). */
  journalPrefix(journal: Uint8Array): number {
    const j = this.old?.journal;
    if (!j || j.bytes === 0 || journal.length < j.bytes) return 0;
    return digestBytes(journal.subarray(0, j.bytes)) === j.prefix_digest ? j.bytes : 0;
  }

  /** Write the cache: the journal's verified prefix and every file verified now, but those changed too recently to trust a stat. */
  save(file: string, journal: { seq: number; bytes: Uint8Array }): void {
    const files: VerifyCache["files"] = {};
    for (const [rel, digest] of [...this.next].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const st = statOf(path.join(this.runDir, rel));
      if (st === null || st.mtimeNs >= this.startedNs - RACY_NS || st.ctimeNs >= this.startedNs - RACY_NS)
        continue;
      files[rel] = {
        size: Number(st.size),
        mtime_ns: String(st.mtimeNs),
        ctime_ns: String(st.ctimeNs),
        ino: String(st.ino),
        digest,
      };
    }
    const doc: VerifyCache = {
      kind: "verify-cache",
      schema_version: "1",
      journal: {
        seq: journal.seq,
        bytes: journal.bytes.length,
        prefix_digest: digestBytes(journal.bytes),
      },
      files,
    };
    writeArtifact(file, "verify-cache", doc);
  }
}
