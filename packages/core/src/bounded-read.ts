import fs from "node:fs";

/** A file's bytes read under a size limit, or why not. */
export type BoundedRead =
  | { ok: true; bytes: Buffer }
  /** open, fstat or read failed; `error` is the system error. */
  | { ok: false; reason: "unreadable"; error: NodeJS.ErrnoException }
  /** A directory, device or other non-regular file. */
  | { ok: false; reason: "not-a-file" }
  /** Larger than the limit: `size` is the size fstat gave, or null when the file grew past the limit while it was read. */
  | { ok: false; reason: "too-large"; size: number | null };

/**
 * The one size guard for user input (plans, bindings, plan snapshots): refuse a file
 * larger than `maxBytes` before reading it, and never read more than one byte past
 * the limit, in case it grows after the check. The size checked is the size of the
 * open descriptor, so it is the file that is read.
 */
export function readFileBounded(file: string, maxBytes: number): BoundedRead {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    return { ok: false, reason: "unreadable", error: e as NodeJS.ErrnoException };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { ok: false, reason: "not-a-file" };
    if (st.size > maxBytes) return { ok: false, reason: "too-large", size: st.size };
    const bytes = readAtMost(fd, maxBytes + 1, st.size + 1);
    if (bytes.length > maxBytes) return { ok: false, reason: "too-large", size: null };
    return { ok: true, bytes };
  } catch (e) {
    return { ok: false, reason: "unreadable", error: e as NodeJS.ErrnoException };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Up to `limit` bytes from the descriptor's start (fewer at end of file). The buffer
 * starts at the size fstat reported and grows only if the file turns out longer.
 */
function readAtMost(fd: number, limit: number, expected: number): Buffer {
  let buf = Buffer.alloc(Math.min(expected, limit));
  let n = 0;
  for (;;) {
    const r = fs.readSync(fd, buf, n, buf.length - n, null);
    n += r;
    if (r === 0 || n === limit) return buf.subarray(0, n);
    if (n === buf.length) buf = Buffer.concat([buf, Buffer.alloc(Math.min(buf.length, limit - buf.length))]);
  }
}
