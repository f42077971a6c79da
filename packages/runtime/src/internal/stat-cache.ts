import fs from "node:fs";
import path from "node:path";
import { type Digest, digestBytes, writeFileAtomic } from "@dwm/core";
import type { VerifyCache } from "@dwm/schemas";

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
  /** Files found to have their digest now (hashed), to stat when the cache is written. */
  private readonly hashed = new Map<string, Digest>();
  /** Entries of the old cache found unchanged now: kept as they are. */
  private readonly kept = new Map<string, Entry>();

  private constructor(
    private readonly runDir: string,
    private readonly old: VerifyCache | null,
    private readonly startedNs: bigint,
  ) {}

  /** The cache at `file` (absolute; none when missing or unreadable); `nowMs`: when this check started. */
  static load(runDir: string, file: string | null, nowMs = Date.now()): StatCache {
    let old: VerifyCache | null = null;
    try {
      const v = JSON.parse(fs.readFileSync(file ?? "", "utf8")) as Partial<VerifyCache> | null;
      // The shape only: an entry that is not what it should be never matches a stat (fresh).
      const j = v?.journal;
      if (
        v?.kind === "verify-cache" &&
        v.schema_version === "1" &&
        typeof v.files === "object" &&
        v.files !== null &&
        typeof j?.seq === "number" &&
        typeof j.bytes === "number" &&
        typeof j.prefix_digest === "string"
      )
        old = v as VerifyCache;
    } catch {
      old = null;
    }
    return new StatCache(runDir, old, BigInt(Math.floor(nowMs)) * 1_000_000n);
  }

  /** `rel` under the run directory: run-store paths are checked relative POSIX paths, so no join is needed (one per file adds up). */
  private pathOf(rel: string): string {
    return this.runDir.endsWith(path.sep) ? this.runDir + rel : `${this.runDir}${path.sep}${rel}`;
  }

  /** The digest `rel` had when it was last verified, if the cache records it. */
  recorded(rel: string): string | undefined {
    return this.old?.files[rel]?.digest;
  }

  /** Is `rel` unchanged since its bytes were found to have `expected`? */
  fresh(rel: string, expected: string): boolean {
    const e: Entry | undefined = this.old?.files[rel];
    if (e === undefined || e.digest !== expected) return false;
    const st = statOf(this.pathOf(rel));
    const same =
      st !== null &&
      String(st.size) === String(e.size) &&
      String(st.mtimeNs) === e.mtime_ns &&
      String(st.ctimeNs) === e.ctime_ns &&
      String(st.ino) === e.ino;
    if (same) this.kept.set(rel, e);
    return same;
  }

  /** `rel` was hashed now and found to have `digest`. */
  verified(rel: string, digest: string): void {
    if (!this.kept.has(rel)) this.hashed.set(rel, digest as Digest);
  }

  /** How many leading bytes of the journal were verified before and are unchanged (0: none). */
  journalPrefix(journal: Uint8Array): number {
    const j = this.old?.journal;
    if (!j || j.bytes === 0 || journal.length < j.bytes) return 0;
    return digestBytes(journal.subarray(0, j.bytes)) === j.prefix_digest ? j.bytes : 0;
  }

  /** A new entry for a file hashed now, unless it changed too recently to trust its stat. */
  private entryOf(rel: string, digest: Digest): Entry | null {
    const st = statOf(this.pathOf(rel));
    const racy = this.startedNs - RACY_NS;
    if (st === null || st.mtimeNs >= racy || st.ctimeNs >= racy) return null;
    return {
      size: Number(st.size),
      mtime_ns: String(st.mtimeNs),
      ctime_ns: String(st.ctimeNs),
      ino: String(st.ino),
      digest,
    };
  }

  /**
   * Write the cache (not when nothing changed since it was read): the journal's verified prefix,
   * the entries found unchanged, and every file hashed now but those changed too recently.
   */
  save(file: string, journal: { seq: number; bytes: Uint8Array }): void {
    const added = new Map<string, Entry>();
    for (const [rel, digest] of this.hashed) {
      const e = this.entryOf(rel, digest);
      if (e !== null) added.set(rel, e);
    }
    const old = this.old;
    const unchanged =
      old !== null &&
      added.size === 0 &&
      this.kept.size === Object.keys(old.files).length &&
      old.journal.bytes === journal.bytes.length;
    if (unchanged) return;
    const files: VerifyCache["files"] = Object.fromEntries(this.kept);
    for (const [rel, e] of added) files[rel] = e;
    const doc: VerifyCache = {
      kind: "verify-cache",
      schema_version: "1",
      journal: { seq: journal.seq, bytes: journal.bytes.length, prefix_digest: digestBytes(journal.bytes) },
      files,
    };
    // A cache, not an artifact: plain JSON, written atomically.
    writeFileAtomic(file, JSON.stringify(doc));
  }
}
