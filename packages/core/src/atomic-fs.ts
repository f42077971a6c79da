import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * Write a file atomically and durably: temp file in the same directory, fsync,
 * rename over the target, fsync the directory. A crash leaves either the old
 * file or the new one, never a mix.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  // The random suffix only names a temp file that never outlives this call.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/** Append bytes and fsync before returning. The caller must be the only writer. */
export function appendFileDurable(file: string, data: string | Uint8Array): void {
  const existed = fs.existsSync(file);
  const fd = fs.openSync(file, "a");
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!existed) fsyncDir(path.dirname(file));
}

/** fsync a directory so a rename or a new entry in it survives a crash (no-op where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
