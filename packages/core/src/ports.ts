/** The only source of time for DWM: observations (journal events, evidence) read it, artifacts never do. */
export interface Clock {
  /** Current time as an RFC 3339 UTC string (millisecond precision). */
  now(): string;
  /** Monotonic milliseconds, for durations and timeouts. */
  monotonicMs(): number;
}

export const systemClock: Clock = {
  now: () => new Date().toISOString(),
  monotonicMs: () => performance.now(),
};

export interface ProcessRequest {
  /** argv[0] is the program; no shell is involved unless the program is one. */
  argv: readonly string[];
  cwd: string;
  /** The complete environment of the child (nothing is inherited). */
  env: Readonly<Record<string, string>>;
  /** Text (or bytes: a pack) written to stdin, then stdin is closed. Omitted: stdin is empty. */
  stdin?: string | Uint8Array | undefined;
  /** Capture stdout into this file instead of memory. */
  stdoutFile?: string | undefined;
  /** Capture stderr into this file instead of memory. */
  stderrFile?: string | undefined;
  /** Kill the whole process group after this many ms. */
  timeoutMs?: number | undefined;
  /** Between SIGTERM and SIGKILL of the process group on timeout. Default 2000. */
  killGraceMs?: number | undefined;
  /** Abort from outside (e.g. the run stops); treated like a timeout. */
  signal?: AbortSignal | undefined;
  /**
   * At most this many bytes go to each of `stdoutFile` and `stderrFile` while the process runs:
   * past it, the process group is killed and `outputCapped` names the stream. Unset: no cap.
   */
  maxOutputBytes?: number | undefined;
}

export interface ProcessResult {
  exitCode: number | null;
  /** Signal that ended the process, when it died by one. */
  signal: string | null;
  timedOut: boolean;
  /** The program could not be started (ENOENT, EACCES). */
  spawnError: string | null;
  durationMs: number;
  /** Captured output when not redirected to a file. */
  stdout: string;
  stderr: string;
  pid: number | null;
  /** The output file that reached `maxOutputBytes` first (the group was killed then); absent or null otherwise. */
  outputCapped?: "stdout" | "stderr" | null;
}

/** Runs processes. The real adapter is `nodeProcessRunner`; tests use `FakeProcessRunner`. */
export interface ProcessRunner {
  run(request: ProcessRequest): Promise<ProcessResult>;
}
