import { coreErrors, type DwmError, isDwmError } from "./errors.js";

type FsCode =
  | "ERR_FS_NO_SPACE"
  | "ERR_FS_WRONG_KIND"
  | "ERR_FS_PERMISSION"
  | "ERR_FS_READ_ONLY"
  | "ERR_FS_IO";

/** The errno codes a user's machine can raise, by the DWM code that tells them what to do. */
const BY_ERRNO: Record<string, { code: FsCode; what: string }> = {
  ENOSPC: { code: "ERR_FS_NO_SPACE", what: "no space left on the device" },
  EDQUOT: { code: "ERR_FS_NO_SPACE", what: "the disk quota is exceeded" },
  EISDIR: { code: "ERR_FS_WRONG_KIND", what: "it is a directory, not a file" },
  ENOTDIR: { code: "ERR_FS_WRONG_KIND", what: "a part of the path is a file, not a directory" },
  ENOTEMPTY: { code: "ERR_FS_WRONG_KIND", what: "a non-empty directory is in the way" },
  EACCES: { code: "ERR_FS_PERMISSION", what: "permission denied" },
  EPERM: { code: "ERR_FS_PERMISSION", what: "operation not permitted (an immutable file, or another owner)" },
  EROFS: { code: "ERR_FS_READ_ONLY", what: "the file system is read-only" },
  EIO: { code: "ERR_FS_IO", what: "an input/output error" },
  EMFILE: { code: "ERR_FS_IO", what: "too many open files" },
  ENFILE: { code: "ERR_FS_IO", what: "too many open files in the system" },
};

/**
 * EEXIST where a folder was to be made (mkdir, also under `recursive`: a file is in the way);
 * elsewhere EEXIST is a create-exclusive race the caller handles (a lock, a temp name), so not here.
 */
function existing(err: NodeJS.ErrnoException): { code: FsCode; what: string } | undefined {
  return err.code === "EEXIST" && err.syscall === "mkdir"
    ? { code: "ERR_FS_WRONG_KIND", what: "a file is where a folder is to be made" }
    : undefined;
}

/**
 * The coded DwmError of a file-system failure a user can meet (disk full, wrong file kind,
 * permissions, read-only, I/O), naming the path and the system call; null for anything else
 * (a DwmError already, or a bug).
 */
export function fsErrorOf(e: unknown): DwmError | null {
  if (isDwmError(e) || typeof e !== "object" || e === null) return null;
  const err = e as NodeJS.ErrnoException;
  const known = typeof err.code === "string" ? (BY_ERRNO[err.code] ?? existing(err)) : undefined;
  if (known === undefined) return null;
  const where = err.path ?? (err as { dest?: string }).dest ?? null;
  return coreErrors.create(
    known.code,
    `${err.syscall ?? "file operation"} ${where ?? ""}: ${known.what} (${err.code})`.replace("  ", " "),
    { details: { path: where, syscall: err.syscall ?? null, errno: err.code ?? null }, cause: e },
  );
}
