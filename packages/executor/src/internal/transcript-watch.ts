import fs from "node:fs";

/** How often a running agent CLI's stdout is read for a decisive event. */
export const WATCH_INTERVAL_MS = 200;

/** Reads a growing JSON Lines file from where it left off; hands each complete object line to `see`. */
class LineTail {
  private offset = 0;
  private partial = "";

  constructor(private readonly file: string) {}

  /** Reads what was appended since the last read; returns the first non-null answer of `see`. */
  read(see: (event: Record<string, unknown>) => string | null): string | null {
    const chunk = this.appended();
    if (chunk === "") return null;
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      const event = parseObject(line);
      const found = event === null ? null : see(event);
      if (found !== null) return found;
    }
    return null;
  }

  private appended(): string {
    let fd: number;
    try {
      fd = fs.openSync(this.file, "r");
    } catch {
      return ""; // not created yet
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return "";
      const buf = Buffer.alloc(size - this.offset);
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      return buf.subarray(0, n).toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  }
}

function parseObject(line: string): Record<string, unknown> | null {
  const t = line.trim();
  if (!t.startsWith("{")) return null;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A watch over a running invocation's stdout: the signal that stops it, and why it was stopped. */
export interface TranscriptWatch {
  /** Passed to the process request; aborted when an event is decisive. */
  readonly signal: AbortSignal | undefined;
  /** Stops watching; the decisive event's text when it stopped the process, else null. */
  stop(): string | null;
}

/**
 * Watch `stdoutFile` while the process runs and abort it at the first event `decisive` calls
 * an auth failure: a refused credential stays refused, so waiting for the CLI's own retries
 * (or the timeout) only costs time. No watch when the backend has no decisive events.
 */
export function watchTranscript(
  stdoutFile: string,
  decisive: ((event: Record<string, unknown>) => string | null) | undefined,
  intervalMs = WATCH_INTERVAL_MS,
): TranscriptWatch {
  if (decisive === undefined) return { signal: undefined, stop: () => null };
  const ac = new AbortController();
  const tail = new LineTail(stdoutFile);
  let reason: string | null = null;
  const look = () => {
    if (reason !== null) return;
    reason = tail.read(decisive);
    if (reason !== null) ac.abort();
  };
  const timer = setInterval(look, intervalMs);
  timer.unref();
  return {
    signal: ac.signal,
    stop: () => {
      clearInterval(timer);
      return reason;
    },
  };
}
