import os from "node:os";
import { hostProcessRunner } from "@dwm/core";
import type { BackendName, WorkerReport } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";

const BACKENDS: readonly BackendName[] = ["dry-run", "shell", "codex", "claude", "command"];

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

/**
 * `dwm worker --queue URL --backends B,…`: execute attempts for coordinators (`dwm run --queue`)
 * until SIGINT/SIGTERM. A first signal stops taking jobs and waits for the running attempts; a
 * second one kills them (their jobs are lost and run again elsewhere). Never writes a run store.
 */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const queue = args.values.queue;
  if (typeof queue !== "string" || queue === "") {
    throw cliErrors.create("ERR_CLI_USAGE", "dwm worker needs --queue redis://… (or rediss:// for TLS)");
  }
  const backends = [...new Set(list(args.values.backends))];
  if (backends.length === 0) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `dwm worker needs --backends: the backends it may run (${BACKENDS.join(", ")})`,
      {
        hint: "A worker runs only the backends it was started with, e.g. --backends shell or --backends codex,claude.",
      },
    );
  }
  for (const b of backends) {
    if (!BACKENDS.includes(b as BackendName)) {
      throw cliErrors.create(
        "ERR_CLI_USAGE",
        `--backends takes ${BACKENDS.join(", ")}, not ${JSON.stringify(b)}`,
      );
    }
  }
  const concurrency = wholeNumber("concurrency", args.values.concurrency, 1) ?? 1;
  const lockMs = wholeNumber("lock-ms", args.values["lock-ms"], 1000);
  const stalledMs = wholeNumber("stalled-ms", args.values["stalled-ms"], 500);
  const prefix = typeof args.values["queue-prefix"] === "string" ? args.values["queue-prefix"] : undefined;
  const name = typeof args.values.name === "string" ? args.values.name : `${os.hostname()}:${process.pid}`;
  const cacheDir = typeof args.values["cache-dir"] === "string" ? args.values["cache-dir"] : undefined;

  const bullmq = await import("@dwm/dispatcher/bullmq");
  const url = bullmq.parseQueueUrl(queue);
  await bullmq.checkRedis(url);

  const ndjson = args.values.ndjson === true;
  const say = (line: string, event?: object) => {
    if (args.json) return;
    ctx.emit(ndjson && event ? JSON.stringify(event) : line);
  };
  // Attempts and git are spawned from a small helper process (forking from this one costs more as it grows).
  const processRunner = hostProcessRunner();
  const worker = await bullmq.startAttemptWorker({
    url: queue,
    backends: backends as BackendName[],
    concurrency,
    name,
    ...(cacheDir ? { cacheDir } : {}),
    ...(prefix ? { prefix } : {}),
    ...(lockMs ? { lockMs } : {}),
    ...(stalledMs ? { stalledIntervalMs: stalledMs } : {}),
    processRunner,
    env: ctx.env,
    clock: ctx.clock,
    onEvent: (e) =>
      say(
        e.kind === "started"
          ? `started ${e.job_id} (${e.lane})`
          : e.kind === "finished"
            ? `finished ${e.job_id}: ${e.outcome} in ${e.duration_ms} ms`
            : `failed ${e.job_id}: ${e.code}: ${e.message}`,
        e,
      ),
  });
  say(
    `worker ${worker.name} takes ${worker.lanes.join(", ")} from ${url.redacted} (concurrency ${concurrency})`,
    {
      kind: "ready",
      name: worker.name,
      lanes: worker.lanes,
    },
  );

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
  await processRunner.close();

  const report: WorkerReport = {
    kind: "worker-report",
    schema_version: "1",
    name: worker.name,
    queue: url.redacted,
    prefix: prefix ?? bullmq.DEFAULT_QUEUE_PREFIX,
    backends: [...backends].sort() as BackendName[],
    lanes: [...worker.lanes],
    concurrency,
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
