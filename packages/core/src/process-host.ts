/**
 * The process host: a small Node process that spawns on behalf of a larger one
 * (`hostProcessRunner`). Forking costs time in proportion to the size of the process
 * that forks, and Node forks on its main thread: a run loop of thousands of packets
 * spent half its main thread in `spawn`. Here the spawns happen in a process of a few
 * tens of MiB, beside the run loop instead of on it.
 *
 * Protocol (IPC, advanced serialization): `{ kind: "run", id, req }` runs `req` with
 * `nodeProcessRunner` and answers `{ kind: "result", id, result }`; `{ kind: "abort", id }`
 * is the request's abort signal. When the parent goes (disconnect), every child is
 * stopped like an abort (its process group killed) and the host exits.
 */
import type { ProcessRequest } from "./ports.js";
import { nodeProcessRunner } from "./process-runner.js";

type Message = { kind: "run"; id: number; req: ProcessRequest } | { kind: "abort"; id: number };

const running = new Map<number, AbortController>();
let leaving = false;

function leaveWhenIdle(): void {
  if (leaving && running.size === 0) process.exit(0);
}

process.on("message", (m: Message) => {
  if (m.kind === "abort") {
    running.get(m.id)?.abort();
    return;
  }
  const ac = new AbortController();
  running.set(m.id, ac);
  if (leaving) ac.abort();
  nodeProcessRunner
    .run({ ...m.req, signal: ac.signal })
    .then((result) => {
      running.delete(m.id);
      if (process.connected) process.send?.({ kind: "result", id: m.id, result });
      leaveWhenIdle();
    })
    .catch((e: unknown) => {
      running.delete(m.id);
      const spawnError = e instanceof Error ? e.message : String(e);
      if (process.connected) process.send?.({ kind: "result", id: m.id, result: { spawnError } });
      leaveWhenIdle();
    });
});

// A terminal's Ctrl-C (or a supervisor's TERM) reaches the whole foreground group, this host
// included: the parent decides what stops, and when it goes (disconnect) the host stops its children.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => {});

process.on("disconnect", () => {
  leaving = true;
  for (const ac of running.values()) ac.abort();
  leaveWhenIdle();
});
