import os from "node:os";
import { hostProcessRunner } from "@dwm/core";
import type { AttemptWorker, AttemptWorkerEvent } from "@dwm/dispatcher/bullmq";
import type { BackendName, WorkerReport } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { BACKEND_NAMES } from "../internal/backend-names.js";
import { workerSandbox } from "../worker-sandbox.js";
import { queueTlsFiles } from "./queue-options.js";

function list(v: ParsedArgs["values"][string]): string[] {
  return (Array.isArray(v) ? v : typeof v === "string" ? [v] : [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function wholeNumber(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^[0-9]+$/.test(v) || Number(v) < min) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `--${name} must be a whole number ≥ ${min}, not ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

/** What `dwm worker` was asked, checked before Redis is touched. */
export interface WorkerOptions {
  queue: string;
  backends: BackendName[];
  concurrency: number;
  lockMs: number | undefined;
  stalledMs: number | undefined;
  prefix: string | undefined;
  name: string;
  cacheDir: string | undefined;
}

/** Check `dwm worker`'s options: a queue URL, at least one known backend, whole numbers. */
export function workerOptions(args: ParsedArgs): WorkerOptions {
  const queue = args.values.queue;
  if (typeof queue !== "string" || queue === "") {
    throw cliErrors.create("ERR_CLI_USAGE", "dwm worker needs --queue redis://… (or rediss:// for TLS)");
  }
  const backends = [...new Set(list(args.values.backends))];
  if (backends.length === 0) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `dwm worker needs --backends: the backends it may run (${BACKEND_NAMES.join(", ")})`,
      {
        hint: "A worker runs only the backends it was started with, e.g. --backends shell or --backends codex,claude.",
      },
    );
  }
  for (const b of backends) {
    if (!(BACKEND_NAMES as readonly string[]).includes(b)) {
      throw cliErrors.create(
        "ERR_CLI_USAGE",
        `--backends takes ${BACKEND_NAMES.join(", ")}, not ${JSON.stringify(b)}`,
      );
    }
  }
  const string = (key: string) =>
    typeof args.values[key] === "string" ? (args.values[key] as string) : undefined;
  return {
    queue,
    backends: backends as BackendName[],
    concurrency: wholeNumber("concurrency", args.values.concurrency, 1) ?? 1,
    lockMs: wholeNumber("lock-ms", args.values["lock-ms"], 1000),
    stalledMs: wholeNumber("stalled-ms", args.values["stalled-ms"], 500),
    prefix: string("queue-prefix"),
    name: string("name") ?? `${os.hostname()}:${process.pid}`,
    cacheDir: string("cache-dir"),
  };
}

/** One line per worker event. */
export function workerEventLine(e: AttemptWorkerEvent): string {
  if (e.kind === "started") return `started ${e.job_id} (${e.lane})`;
  if (e.kind === "finished") return `finished ${e.job_id}: ${e.outcome} in ${e.duration_ms} ms`;
  return `failed ${e.job_id}: ${e.code}: ${e.message}`;
}

/** Wait for SIGINT/SIGTERM: the first stops taking jobs and waits for running attempts; a second kills them. */
async function untilSignalled(
  worker: AttemptWorker,
  say: (line: string, event?: object) => void,
): Promise<void> {
  let signals = 0;
  let onSignal = () => {};
  await new Promise<void>((resolve) => {
    onSignal = () => {
      signals++;
      if (signals === 1) {
        say("stopping: waiting for running attempts (signal again to kill them)", { kind: "stopping" });
        void worker.close(false).then(() => resolve());
      } else {
        void worker.close(true).then(() => resolve());
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
}

/**
 * `dwm worker --queue URL --backends B,…`: execute attempts for coordinators (`dwm run --queue`)
 * until SIGINT/SIGTERM. A first signal stops taking jobs and waits for the running attempts; a
 * second one kills them (their jobs are lost and run again elsewhere). Never writes a run store.
 */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const o = workerOptions(args);
  const bullmq = await import("@dwm/dispatcher/bullmq");
  const tls = queueTlsFiles(args, ctx);
  const url = bullmq.parseQueueUrl(o.queue, tls);
  await bullmq.checkRedis(url);

  const ndjson = args.values.ndjson === true;
  const say = (line: string, event?: object) => {
    if (args.json) return;
    ctx.emit(ndjson && event ? JSON.stringify(event) : line);
  };
  // Attempts and git are spawned from a small helper process (forking from this one costs more as it grows).
  const sandbox = await workerSandbox(
    args,
    ctx,
    o.backends.some((b) => b !== "dry-run"),
  );
  const processRunner = hostProcessRunner();
  const worker = await bullmq.startAttemptWorker({
    sandbox,
    url: o.queue,
    tls,
    backends: o.backends,
    concurrency: o.concurrency,
    name: o.name,
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...(o.lockMs ? { lockMs: o.lockMs } : {}),
    ...(o.stalledMs ? { stalledIntervalMs: o.stalledMs } : {}),
    processRunner,
    env: ctx.env,
    clock: ctx.clock,
    onEvent: (e) => say(workerEventLine(e), e),
  });
  say(
    `worker ${worker.name} takes ${worker.lanes.join(", ")} from ${url.redacted} (concurrency ${o.concurrency})`,
    {
      kind: "ready",
      name: worker.name,
      lanes: worker.lanes,
    },
  );
  await untilSignalled(worker, say);
  await processRunner.close();

  const report: WorkerReport = {
    kind: "worker-report",
    schema_version: "1",
    name: worker.name,
    queue: url.redacted,
    prefix: o.prefix ?? bullmq.DEFAULT_QUEUE_PREFIX,
    backends: [...o.backends].sort() as BackendName[],
    lanes: [...worker.lanes],
    concurrency: o.concurrency,
    processed: worker.stats.processed,
    failed: worker.stats.failed,
  };
  return {
    exitCode: 0,
    output: report,
    text: ndjson
      ? JSON.stringify(report)
      : `worker ${report.name} stopped: ${report.processed} attempt(s) done, ${report.failed} failed`,
  };
}
