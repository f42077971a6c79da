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

/** A result for a request the host never answered: nothing ran, and `spawnError` says why. */
function unanswered(spawnError: string | null, durationMs: number): ProcessResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    spawnError,
    durationMs,
    stdout: "",
    stderr: "",
    pid: null,
  };
}

function since(started: number): number {
  return Math.round(performance.now() - started);
}

type HostMessage = { kind: "result"; id: number; result: Partial<ProcessResult> };

/** The caller's side of the process host: the host process, and the requests it has not answered. */
class ProcessHostClient implements HostProcessRunner {
  private host: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  get hostPid(): number | null {
    return this.host?.pid ?? null;
  }

  readonly run = (req: ProcessRequest): Promise<ProcessResult> => {
    if (!req.argv[0]) throw new TypeError("argv is empty");
    this.host ??= this.start();
    const h = this.host;
    const id = this.nextId++;
    const { signal, ...plain } = req;
    return new Promise<ProcessResult>((resolve) => {
      const abort = () => {
        if (h.connected) h.send({ kind: "abort", id });
      };
      const off = () => signal?.removeEventListener("abort", abort);
      this.pending.set(id, { resolve, req, started: performance.now(), off });
      this.reference();
      h.send({ kind: "run", id, req: plain }, (e) => {
        if (e && this.pending.has(id)) {
          this.pending.delete(id);
          off();
          this.reference();
          resolve(unanswered(`process host unreachable: ${e.message}`, 0));
        }
      });
      signal?.addEventListener("abort", abort, { once: true });
      if (signal?.aborted) abort();
    });
  };

  readonly close = (): Promise<void> => {
    const h = this.host;
    this.host = null;
    if (!h || h.exitCode !== null || h.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      h.once("exit", () => resolve());
      h.ref();
      if (h.connected) h.disconnect();
      else h.kill("SIGTERM");
    });
  };

  /** Keep the caller alive while the host has work; let it exit while the host is idle. */
  private reference(): void {
    const host = this.host;
    if (!host) return;
    if (this.pending.size > 0) {
      host.ref();
      host.channel?.ref();
    } else {
      host.unref();
      host.channel?.unref();
    }
  }

  private answered(m: HostMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    p.off();
    this.reference();
    p.resolve({ ...unanswered(null, since(p.started)), ...m.result });
  }

  /** The host is gone: every request still waiting is settled as a spawn error. */
  private settleAll(why: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.off();
      p.resolve(unanswered(why, since(p.started)));
    }
  }

  private start(): ChildProcess {
    const child = fork(hostScript(), [], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "advanced",
      execArgv: [],
      env: {},
    });
    child.on("message", (m: HostMessage) => this.answered(m));
    const gone = (why: string) => {
      if (this.host === child) this.host = null;
      this.settleAll(why);
    };
    child.on("exit", (code, signal) => gone(`process host exited (${signal ?? `exit ${code}`})`));
    child.on("error", (e) => gone(`process host failed: ${e.message}`));
    return child;
  }
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
  return new ProcessHostClient();
}
