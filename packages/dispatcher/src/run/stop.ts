import type { ProcessRunner } from "@dwm/core";
import type { DispatcherPorts } from "./types.js";

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Why and when the run stops early. An interrupt (the caller's signal: SIGINT/SIGTERM) or a
 * lost run lock aborts at once: workers are killed and the loop drains. A failure (an attempt
 * that could not run, an infrastructure stop) lets what runs finish: nothing more is dispatched,
 * and the run stops as failed once the queue is empty.
 */
export class StopControl {
  private readonly controller = new AbortController();
  private readonly onAbort = () => this.controller.abort();
  private readonly sleeper: NonNullable<DispatcherPorts["sleep"]>;
  /** The first reason the run must stop as failed; null while it may go on. */
  failure: string | null = null;
  /** The run lock could not be renewed: thrown once the running attempts are drained. */
  leaseError: unknown = null;

  constructor(private readonly ports: Pick<DispatcherPorts, "signal" | "sleep">) {
    if (ports.signal?.aborted) this.controller.abort();
    ports.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.sleeper = ports.sleep ?? defaultSleep;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** The run stops as failed for this reason (the first one given wins). */
  fail(reason: string): void {
    this.failure ??= reason;
  }

  /** The lock is lost: stop now; the error is the run's result once the attempts are drained. */
  leaseLost(e: unknown): void {
    this.leaseError = e;
    this.controller.abort();
  }

  /** Waits `ms`, or less when the run is stopped meanwhile. */
  sleep(ms: number): Promise<void> {
    return this.sleeper(ms, this.signal);
  }

  /** `p`, or "stopped" as soon as the run is stopped (p keeps running). */
  async race<T>(p: Promise<T>): Promise<T | "stopped"> {
    if (this.aborted) return "stopped";
    let off = () => {};
    const stopped = new Promise<"stopped">((resolve) => {
      const f = () => resolve("stopped");
      this.signal.addEventListener("abort", f, { once: true });
      off = () => this.signal.removeEventListener("abort", f);
    });
    try {
      return await Promise.race([p, stopped]);
    } finally {
      off();
    }
  }

  /** A process runner whose workers get the stop signal (killed like a timeout); git commands finish. */
  workerRunner(inner: ProcessRunner): ProcessRunner {
    const signal = this.signal;
    return { run: (req) => inner.run(req.argv[0] === "git" || req.signal ? req : { ...req, signal }) };
  }

  /** Stop listening to the caller's signal. */
  dispose(): void {
    this.ports.signal?.removeEventListener("abort", this.onAbort);
  }
}
