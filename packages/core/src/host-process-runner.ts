import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { ProcessRequest, ProcessResult, ProcessRunner } from "./ports.js";

/** A ProcessRunner whose spawns happen in a process host (see process-host.ts); `close()` ends the host. */
export interface HostProcessRunner extends ProcessRunner {
  /** Ends the host once its children are done (they are stopped first when `now`). */
  close(): Promise<void>;
  /** The host's pid while it runs (for whoever measures its memory), else null. */
  readonly hostPid: number | null;
}

/** The host's script: beside this module once built; the built copy when this runs from source (tests). */
function hostScript(): string {
  const here = new URL(import.meta.url);
  const beside = fileURLToPath(new URL("./process-host.js", here));
  if (fs.existsSync(beside)) return beside;
  return fileURLToPath(new URL("../dist/process-host.js", here));
}

interface Pending {
  resolve: (r: ProcessResult) => void;
  req: ProcessRequest;
  started: number;
  off: () => void;
}

/**
 * A ProcessRunner that spawns through a small long-lived Node process (the process host),
 * started on first use, so forking costs what it costs from a process of a few tens of MiB,
 * off the caller's main thread. Same semantics as `nodeProcessRunner` (it runs there): process
 * groups, timeouts, abort, output capture and limits. A host that dies settles what it was
 * running as `spawnError: "process host exited …"` (those processes' groups were started
 * detached and may outlive it); the next request starts a new host. The host holds no
 * reference on the event loop while it has nothing to run.
 */
export function hostProcessRunner(): HostProcessRunner {
  let host: ChildProcess | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const settleAll = (why: string) => {
    for (const [id, p] of pending) {
      pending.delete(id);
      p.off();
      p.resolve({
        exitCode: null,
        signal: null,
        timedOut: false,
        spawnError: why,
        durationMs: Math.round(performance.now() - p.started),
        stdout: "",
        stderr: "",
        pid: null,
      });
    }
  };

  const reference = () => {
    if (!host) return;
    if (pending.size > 0) {
      host.ref();
      host.channel?.ref();
    } else {
      host.unref();
      host.channel?.unref();
    }
  };

  const start = (): ChildProcess => {
    const child = fork(hostScript(), [], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "advanced",
      execArgv: [],
      env: {},
    });
    child.on("message", (m: { kind: "result"; id: number; result: Partial<ProcessResult> }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      p.off();
      reference();
      p.resolve({
        exitCode: null,
        signal: null,
        timedOut: false,
        spawnError: null,
        durationMs: Math.round(performance.now() - p.started),
        stdout: "",
        stderr: "",
        pid: null,
        ...m.result,
      });
    });
    const gone = (why: string) => {
      if (host === child) host = null;
      settleAll(why);
    };
    child.on("exit", (code, signal) => gone(`process host exited (${signal ?? `exit ${code}`})`));
    child.on("error", (e) => gone(`process host failed: ${e.message}`));
    return child;
  };

  return {
    get hostPid() {
      return host?.pid ?? null;
    },
    run(req: ProcessRequest): Promise<ProcessResult> {
      if (!req.argv[0]) throw new TypeError("argv is empty");
      host ??= start();
      const h = host;
      const id = nextId++;
      const { signal, ...plain } = req;
      return new Promise<ProcessResult>((resolve) => {
        const abort = () => {
          if (h.connected) h.send({ kind: "abort", id });
        };
        const off = () => signal?.removeEventListener("abort", abort);
        pending.set(id, { resolve, req, started: performance.now(), off });
        reference();
        h.send({ kind: "run", id, req: plain }, (e) => {
          if (e && pending.has(id)) {
            pending.delete(id);
            off();
            reference();
            resolve({
              exitCode: null,
              signal: null,
              timedOut: false,
              spawnError: `process host unreachable: ${e.message}`,
              durationMs: 0,
              stdout: "",
              stderr: "",
              pid: null,
            });
          }
        });
        signal?.addEventListener("abort", abort, { once: true });
        if (signal?.aborted) abort();
      });
    },
    close(): Promise<void> {
      const h = host;
      host = null;
      if (!h || h.exitCode !== null || h.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        h.once("exit", () => resolve());
        h.ref();
        if (h.connected) h.disconnect();
        else h.kill("SIGTERM");
      });
    },
  };
}
