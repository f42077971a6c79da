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
 * The real ProcessRunner, on `node:child_process` directly (no wrapper: a run loop spawns
 * several processes per packet, and each layer's per-spawn cost is paid on the main thread).
 *
 * Each child leads its own process group, so a timeout or an abort kills children and
 * grandchildren alike (SIGTERM, then SIGKILL after a grace period), and whatever the child left
 * behind in its group is killed when it exits — before its output is awaited, so a background
 * process holding stdout open cannot hold the result up. Output past MAX_CAPTURED_OUTPUT (per
 * stream, in memory) kills the group; the result then says so on stderr.
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

    const fds: number[] = [];
    const openOut = (f: string | undefined): number | "pipe" => {
      if (f === undefined) return "pipe";
      const fd = fs.openSync(f, "w");
      fds.push(fd);
      return fd;
    };
    const closeFds = () => {
      for (const fd of fds.splice(0)) fs.closeSync(fd);
    };

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, {
        cwd: req.cwd,
        env: { ...req.env },
        detached: true,
        stdio: [
          req.stdin === undefined ? "ignore" : "pipe",
          openOut(req.stdoutFile),
          openOut(req.stderrFile),
        ],
      });
    } catch (e) {
      // Raised before any process existed: an output file that cannot be opened, a NUL in argv.
      closeFds();
      return Promise.resolve(done({ spawnError: errorCode(e) }));
    }
    // The child holds its own copies of the output files.
    closeFds();

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
      const stdout = collect(child.stdout, tooMuch);
      const stderr = collect(child.stderr, tooMuch);
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
      });
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        if (pid === null) return;
        let err = stderr();
        if (overflow) {
          err += `${err === "" || err.endsWith("\n") ? "" : "\n"}[dwm: output over ${MAX_CAPTURED_OUTPUT} bytes; the process group was killed]\n`;
        }
        finish({ exitCode: code, signal, timedOut, stdout: stdout(), stderr: err });
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
