/** Exit codes of the `dwm` CLI (DESIGN.md, "CLI"). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  integrity: 3,
  gate: 4,
  budget: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What a catalogue entry says about one error code. */
export interface ErrorDescriptor {
  code: string;
  /** One line: what went wrong, in general terms. */
  title: string;
  /** What the user can do about it. */
  hint: string;
  /** Exit code the CLI uses when this error ends a command. */
  exitCode: ExitCode;
}

export interface DwmErrorJSON {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** A failure a user can act on: permanent code, message, hint, structured details. */
export class DwmError extends Error {
  override readonly name = "DwmError";
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly exitCode: ExitCode;

  constructor(
    code: string,
    message: string,
    options: {
      hint?: string | undefined;
      details?: Record<string, unknown> | undefined;
      cause?: unknown;
      exitCode?: ExitCode | undefined;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = options.exitCode ?? EXIT.failure;
  }

  toJSON(): DwmErrorJSON {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** True for a DwmError, also across duplicate copies of this package. */
export function isDwmError(e: unknown): e is DwmError {
  return (
    e instanceof DwmError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "DwmError" && "code" in e)
  );
}

export type ErrorCatalogue<K extends string> = { readonly [C in K]: ErrorDescriptor } & {
  /** Build the error with a specific message and details. */
  readonly create: (
    code: K,
    message: string,
    extra?: { details?: Record<string, unknown>; hint?: string; cause?: unknown },
  ) => DwmError;
  readonly list: () => ErrorDescriptor[];
};

/**
 * Declare a package's error catalogue. Each package keeps one in `src/errors.ts`;
 * `docs/errors.md` is checked against the union of all catalogues.
 */
export function defineErrors<K extends string>(
  entries: { readonly [C in K]: { title: string; hint: string; exitCode?: ExitCode } },
): ErrorCatalogue<K> {
  const table = {} as Record<K, ErrorDescriptor>;
  for (const code of Object.keys(entries) as K[]) {
    if (!/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/.test(code)) throw new TypeError(`bad error code ${code}`);
    const e = entries[code];
    table[code] = { code, title: e.title, hint: e.hint, exitCode: e.exitCode ?? EXIT.failure };
  }
  return Object.freeze({
    ...table,
    create(
      code: K,
      message: string,
      extra: { details?: Record<string, unknown>; hint?: string; cause?: unknown } = {},
    ) {
      const d = table[code];
      return new DwmError(code, message, {
        hint: extra.hint ?? d.hint,
        details: extra.details,
        cause: extra.cause,
        exitCode: d.exitCode,
      });
    },
    list: () => Object.values<ErrorDescriptor>(table),
  }) as ErrorCatalogue<K>;
}

/** Errors raised by @dwm/core itself. */
export const coreErrors = defineErrors({
  ERR_OUT_PATH_UNSAFE: {
    title: "A path escapes its root (absolute, `..`, or malformed).",
    hint: "Use a relative path that stays inside the root.",
  },
  ERR_OUT_PATH_SYMLINK: {
    title: "A path goes through a symbolic link.",
    hint: "Replace the symlink with a real directory or file, or choose another path.",
  },
  ERR_ARTIFACT_MISSING: {
    title: "An artifact file does not exist.",
    hint: "Check the path; run `dwm verify` to see what else is missing.",
    exitCode: EXIT.integrity,
  },
  ERR_ARTIFACT_PARSE: {
    title: "An artifact file is not valid JSON.",
    hint: "The file was changed or damaged; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_ARTIFACT_SCHEMA: {
    title: "An artifact does not match its schema.",
    hint: "The file was changed or written by another version; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_ARTIFACT_DIGEST: {
    title: "An artifact's digest does not match the digest recorded for it.",
    hint: "The file was changed after it was written; run `dwm verify` for the full report.",
    exitCode: EXIT.integrity,
  },
  ERR_ARTIFACT_NOT_CANONICAL: {
    title: "An artifact file is not in DWM's canonical rendering.",
    hint: "The file was edited by hand or by another tool; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_LOCK_HELD: {
    title: "Another process holds the lock.",
    hint: "Wait for it to finish, or stop it; a lock of a dead process is taken over when its lease expires.",
  },
  ERR_LOCK_LOST: {
    title: "The lock was taken by another process.",
    hint: "Another runner took over this run; stop this one.",
  },
  ERR_JSON_INVALID: {
    title: "The input is not valid JSON.",
    hint: "Check the file with a JSON linter.",
  },
  ERR_SANDBOX_VIEW: {
    title:
      "A sandbox view names a path that cannot be shown inside it, or an endpoint off the loopback interface.",
    hint: "Bind only existing paths (targets under /tmp or a writable bind are created); endpoints must be 127.0.0.1, ::1 or localhost.",
  },
  ERR_SANDBOX_UNAVAILABLE: {
    title: "No OS sandbox works on this machine, so workers cannot be isolated.",
    hint: "Run `dwm doctor` to see why (install bubblewrap; enable user namespaces), or pass --no-sandbox to run workers as yourself (recorded as lower assurance).",
  },
  ERR_INPUT_TOO_LARGE: {
    title: "The input is larger than DWM accepts.",
    hint: "Split the input or raise the limit.",
  },
  ERR_FS_NO_SPACE: {
    title: "The disk (or the user's quota) is full: a file could not be written.",
    hint: "Free space on the file system named in details.path, then run the command again; what was journaled before stays valid.",
  },
  ERR_FS_WRONG_KIND: {
    title:
      "A path is the wrong kind of file: a directory where a file should be, or a file where a directory should be.",
    hint: "Look at details.path (e.g. a folder named dwm.workers.json, or a file named .dwm) and move it out of the way.",
  },
  ERR_FS_PERMISSION: {
    title: "The operating system refused access to a file (permissions, ownership, or an immutable file).",
    hint: "Check details.path with ls -l and lsattr (chattr +i makes a file immutable); DWM needs to read and write its run store.",
  },
  ERR_FS_READ_ONLY: {
    title: "The file system is mounted read-only.",
    hint: "Remount it read-write, or point DWM at a writable store with --store.",
  },
  ERR_FS_IO: {
    title: "The file system reported an input/output error or ran out of file handles.",
    hint: "Check the disk (dmesg) and the open-file limit (ulimit -n), then run again; what was journaled before stays valid.",
  },
});
