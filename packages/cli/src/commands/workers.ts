import type { WorkerList, WorkerPresence } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { queueTlsFiles } from "./queue-options.js";

/** How long ago `at` was, seen from `now`, in whole seconds (`-` when there is no `at`). */
function ago(at: string | null, now: string): string {
  if (at === null) return "-";
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(at)) / 1000));
  return `${s}s ago`;
}

/** One worker as lines: a row, then one line per running job. */
function workerLines(w: WorkerPresence, now: string): string[] {
  const row = [
    w.name,
    w.host ?? "-",
    w.pid === null ? "-" : String(w.pid),
    w.backends.join(",") || "-",
    w.concurrency === null ? "-" : String(w.concurrency),
    `${w.running.length}`,
    ago(w.heartbeat_at, now),
    w.registered_lanes.length > 0 ? `${w.registered_lanes.length} lane(s)` : "not connected",
  ].join("  ");
  return [
    row,
    ...w.running.map(
      (r) => `    running ${r.job_id} (${r.lane}) for ${ago(r.started_at, now).replace(" ago", "")}`,
    ),
  ];
}

/** The fleet as text: a header, one row per worker and its running jobs. */
export function renderWorkers(l: WorkerList): string {
  const head = `${l.workers.length} worker(s) on ${l.queue} (prefix ${l.prefix})`;
  if (l.workers.length === 0) return `${head}\n(start one with dwm worker --queue … --backends …)`;
  return [
    head,
    "name  host  pid  backends  concurrency  running  heartbeat  registry",
    ...l.workers.flatMap((w) => workerLines(w, l.at)),
  ].join("\n");
}

/**
 * `dwm workers --queue URL`: the live `dwm worker` processes of a fleet — host, pid, backends,
 * concurrency, running jobs and last heartbeat — from their heartbeats in Redis and BullMQ's
 * registry of worker connections.
 */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const queue = args.values.queue;
  if (typeof queue !== "string" || queue === "") {
    throw cliErrors.create("ERR_CLI_USAGE", "dwm workers needs --queue redis://… (or rediss:// for TLS)");
  }
  const prefix = typeof args.values["queue-prefix"] === "string" ? args.values["queue-prefix"] : undefined;
  const bullmq = await import("@dwm/dispatcher/bullmq");
  const tls = queueTlsFiles(args, ctx);
  await bullmq.checkRedis(bullmq.parseQueueUrl(queue, tls));
  const list = await bullmq.listWorkers({
    url: queue,
    tls,
    clock: ctx.clock,
    ...(prefix !== undefined ? { prefix } : {}),
  });
  return { exitCode: 0, output: list, text: renderWorkers(list) };
}
