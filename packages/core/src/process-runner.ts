import { execa } from "execa";
import type { ProcessRequest, ProcessResult, ProcessRunner } from "./ports.js";

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * The real ProcessRunner, on execa. Each child leads its own process group, so a
 * timeout kills children and grandchildren alike (SIGTERM, then SIGKILL after a
 * grace period), and whatever the child left behind in its group is killed when it exits.
 */
export const execaProcessRunner: ProcessRunner = {
  async run(req: ProcessRequest): Promise<ProcessResult> {
    const [file, ...args] = req.argv;
    if (!file) throw new TypeError("argv is empty");
    const started = performance.now();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    // A run's stop signal outlives thousands of children: each one's listener goes when it ends.
    let offAbort = () => {};
    try {
      const child = execa(file, args, {
        cwd: req.cwd,
        env: { ...req.env },
        extendEnv: false,
        reject: false,
        detached: true,
        cleanup: true,
        stripFinalNewline: false,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        stdin: req.stdin === undefined ? "ignore" : "pipe",
        ...(req.stdin === undefined ? {} : { input: req.stdin }),
        stdout: req.stdoutFile === undefined ? "pipe" : { file: req.stdoutFile },
        stderr: req.stderrFile === undefined ? "pipe" : { file: req.stderrFile },
      });
      const pid = child.pid ?? null;
      const stop = () => {
        if (pid === null || timedOut) return;
        timedOut = true;
        killGroup(pid, "SIGTERM");
        graceTimer = setTimeout(() => killGroup(pid, "SIGKILL"), req.killGraceMs ?? 2000);
      };
      if (req.timeoutMs !== undefined) timer = setTimeout(stop, req.timeoutMs);
      req.signal?.addEventListener("abort", stop, { once: true });
      offAbort = () => req.signal?.removeEventListener("abort", stop);
      // A signal aborted before the child started never fires "abort" again.
      if (req.signal?.aborted) stop();
      const r = await child;
      // Anything the child left running in its group (daemons, background jobs) goes too.
      if (pid !== null) killGroup(pid, "SIGKILL");
      const spawnError =
        r.failed && r.exitCode === undefined && r.signal === undefined && !timedOut
          ? ((r as { code?: string }).code ?? r.shortMessage ?? "spawn failed")
          : null;
      return {
        exitCode: r.exitCode ?? null,
        signal: r.signal ?? null,
        timedOut,
        spawnError,
        durationMs: Math.round(performance.now() - started),
        stdout: typeof r.stdout === "string" ? r.stdout : "",
        stderr: typeof r.stderr === "string" ? r.stderr : "",
        pid,
      };
    } finally {
      offAbort();
      if (timer) clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
    }
  },
};
