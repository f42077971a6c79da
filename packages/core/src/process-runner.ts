import { spawn } from "node:child_process";
import fs from "node:fs";
import type { ProcessRequest, ProcessResult, ProcessRunner } from "./ports.js";

/** Output kept in memory per stream; past it the process group is killed and the rest dropped. */
export const MAX_CAPTURED_OUTPUT = 64 * 1024 * 1024;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  // Usually the group is already gone (ESRCH) when this runs at a child's exit: the error is
  // expected and dropped, so no stack is captured for it (a profile of a 5,000-packet run found
  // 18.6 s of main-thread time in building those errors' stacks).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : "spawn failed";
}

/** Collects one output stream up to MAX_CAPTURED_OUTPUT bytes; `over` is called once past it. */
function collect(stream: NodeJS.ReadableStream | null, over: () => void): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  let full = false;
  stream?.on("data", (b: Buffer) => {
    if (full) return;
    if (size + b.length > MAX_CAPTURED_OUTPUT) {
      chunks.push(b.subarray(0, MAX_CAPTURED_OUTPUT - size));
      size = MAX_CAPTURED_OUTPUT;
      full = true;
      over();
      return;
    }
    chunks.push(b);
    size += b.length;
  });
  return () => Buffer.concat(chunks, size).toString("utf8");
}

/**
 * Copies a child's output stream into the open file `fd`, at most `cap` bytes (written as it
 * comes, so memory stays bounded); past it `over` is called once and the rest is dropped. The
 * file is closed when the stream closes.
 */
function pumpCapped(stream: NodeJS.ReadableStream | null, fd: number, cap: number, over: () => void): void {
  let size = 0;
  let full = false;
  const close = () => fs.closeSync(fd);
  if (stream === null) {
    close();
    return;
  }
  stream.on("data", (b: Buffer) => {
    if (full) return;
    const n = Math.min(b.length, cap - size);
    let done = 0;
    while (done < n) done += fs.writeSync(fd, b, done, n - done);
    size += n;
    if (n < b.length) {
      full = true;
      over();
    }
  });
  stream.once("close", close);
}

/**
 * The output files of one request, opened before the spawn. Without a cap the child writes them
 * itself (`stdio` holds their descriptors); with `maxOutputBytes` its output comes through pipes
 * and `pump` writes it, capped. A stream without a file is a pipe read into memory (`collect`).
 */
class OutputFiles {
  readonly stdio: [number | "pipe", number | "pipe"] = ["pipe", "pipe"];
  private readonly pumpTo: [number | null, number | null] = [null, null];
  private readonly cap: number | undefined;
  capped: "stdout" | "stderr" | null = null;

  constructor(req: ProcessRequest) {
    this.cap = req.maxOutputBytes;
    try {
      for (const [i, f] of [req.stdoutFile, req.stderrFile].entries()) {
        if (f === undefined) continue;
        const fd = fs.openSync(f, "w");
        if (this.cap === undefined) this.stdio[i] = fd;
        else this.pumpTo[i] = fd;
      }
    } catch (e) {
      this.closeAll();
      throw e;
    }
  }

  get piped(): boolean {
    return this.cap !== undefined;
  }

  /** After the spawn: the child holds its own copies of the files it writes itself. */
  closeChildFiles(): void {
    for (const fd of this.stdio) if (fd !== "pipe") fs.closeSync(fd);
    this.stdio[0] = this.stdio[1] = "pipe";
  }

  closeAll(): void {
    this.closeChildFiles();
    for (const fd of this.pumpTo) if (fd !== null) fs.closeSync(fd);
  }

  /** Start copying the child's streams into the capped files; `over` runs at the first stream past the cap. Returns the streams left to `collect`. */
  pump(
    streams: [NodeJS.ReadableStream | null, NodeJS.ReadableStream | null],
    over: () => void,
  ): [NodeJS.ReadableStream | null, NodeJS.ReadableStream | null] {
    const names = ["stdout", "stderr"] as const;
    return streams.map((stream, i) => {
      const fd = this.pumpTo[i];
      if (fd === null || fd === undefined) return stream;
      pumpCapped(stream, fd, this.cap ?? 0, () => {
        this.capped ??= names[i] ?? "stdout";
        over();
      });
      return null;
    }) as [NodeJS.ReadableStream | null, NodeJS.ReadableStream | null];
  }
}

/**
 * The real ProcessRunner, on `node:child_process` directly (no wrapper: a run loop spawns
 * several processes per packet, and each layer's per-spawn cost is paid on the main thread).
 *
 * Each child leads its own process group, so a timeout or an abort kills children and
 * grandchildren alike (SIGTERM, then SIGKILL after a grace period), and whatever the child left
 * behind in its group is killed when it exits — before its output is awaited, so a background
 * process holding stdout open cannot hold the result up. Output past MAX_CAPTURED_OUTPUT (per
 * stream, in memory) kills the group; the result then says so on stderr. With `maxOutputBytes`,
 * the output files are written through pipes and capped while the process runs: a process
 * printing without end cannot fill the disk, its group is killed at the cap (`outputCapped`).
 */
export const nodeProcessRunner: ProcessRunner = {
  run(req: ProcessRequest): Promise<ProcessResult> {
    const [file, ...args] = req.argv;
    if (!file) throw new TypeError("argv is empty");
    const started = performance.now();
    const done = (r: Partial<ProcessResult>): ProcessResult => ({
      exitCode: null,
      signal: null,
      timedOut: false,
      spawnError: null,
      durationMs: Math.round(performance.now() - started),
      stdout: "",
      stderr: "",
      pid: null,
      ...r,
    });

    let files: OutputFiles;
    let child: ReturnType<typeof spawn>;
    try {
      files = new OutputFiles(req);
    } catch (e) {
      return Promise.resolve(done({ spawnError: errorCode(e) }));
    }
    try {
      child = spawn(file, args, {
        cwd: req.cwd,
        env: { ...req.env },
        detached: true,
        stdio: [req.stdin === undefined ? "ignore" : "pipe", ...files.stdio],
      });
    } catch (e) {
      // Raised before any process existed: a NUL in argv.
      files.closeAll();
      return Promise.resolve(done({ spawnError: errorCode(e) }));
    }
    files.closeChildFiles();

    return new Promise<ProcessResult>((resolve) => {
      const pid = child.pid ?? null;
      let timedOut = false;
      let overflow = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const stop = () => {
        if (pid === null || timedOut) return;
        timedOut = true;
        killGroup(pid, "SIGTERM");
        graceTimer = setTimeout(() => killGroup(pid, "SIGKILL"), req.killGraceMs ?? 2000);
      };
      const tooMuch = () => {
        overflow = true;
        if (pid !== null) killGroup(pid, "SIGKILL");
      };
      const [outStream, errStream] = files.pump([child.stdout, child.stderr], () => {
        if (pid !== null) killGroup(pid, "SIGKILL");
      });
      const stdout = collect(outStream, tooMuch);
      const stderr = collect(errStream, tooMuch);
      // A run's stop signal outlives thousands of children: each one's listener goes when it ends.
      const finish = (r: Partial<ProcessResult>) => {
        req.signal?.removeEventListener("abort", stop);
        if (timer) clearTimeout(timer);
        if (graceTimer) clearTimeout(graceTimer);
        resolve(done({ pid, ...r }));
      };

      child.once("error", (e) => {
        // Only a child that never started is settled here; one that runs ends with "close".
        if (pid === null) finish({ spawnError: errorCode(e), pid: null });
      });
      // Anything the child left running in its group (daemons, background jobs) goes at its exit.
      child.once("exit", () => {
        if (pid !== null) killGroup(pid, "SIGKILL");
        // A process that left the group (setsid) could hold a pipe open for ever: stop reading after the grace.
        if (files.piped) {
          setTimeout(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
          }, req.killGraceMs ?? 2000).unref();
        }
      });
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        if (pid === null) return;
        let err = stderr();
        if (overflow) {
          err += `${err === "" || err.endsWith("\n") ? "" : "\n"}[dwm: output over ${MAX_CAPTURED_OUTPUT} bytes; the process group was killed]\n`;
        }
        finish({
          exitCode: code,
          signal,
          timedOut,
          stdout: stdout(),
          stderr: err,
          ...(files.piped ? { outputCapped: files.capped } : {}),
        });
      });

      if (pid === null) return;
      if (req.stdin !== undefined && child.stdin) {
        // A child that exits without reading its input is not an error of ours.
        child.stdin.on("error", () => {});
        child.stdin.end(req.stdin);
      }
      if (req.timeoutMs !== undefined) timer = setTimeout(stop, req.timeoutMs);
      req.signal?.addEventListener("abort", stop, { once: true });
      // A signal aborted before the child started never fires "abort" again.
      if (req.signal?.aborted) stop();
    });
  },
};

/** @deprecated The runner no longer uses execa; the same object as `nodeProcessRunner`. */
export const execaProcessRunner: ProcessRunner = nodeProcessRunner;
