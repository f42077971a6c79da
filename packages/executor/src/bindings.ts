import { type Digest, digest, isDwmError, readJsonFile } from "@dwm/core";
import {
  type Packet,
  type ResolvedBinding,
  validateSchema,
  type WorkerBinding,
  type WorkerBindings,
} from "@dwm/schemas";
import { executorErrors } from "./errors.js";
import { checkBinding } from "./internal/backends.js";

/** The default bindings file name, looked for beside the plan (or at the repository root). */
export const WORKER_BINDINGS_FILE = "dwm.workers.json";

/** Validate a parsed worker-bindings document; returns it with its digest (canonical JSON). */
export function parseWorkerBindings(
  value: unknown,
  source = "worker bindings",
): { bindings: WorkerBindings; digest: Digest } {
  const r = validateSchema("worker-bindings", value);
  if (!r.ok) {
    throw executorErrors.create(
      "ERR_EXEC_BINDINGS_INVALID",
      `${source} does not match the worker-bindings schema`,
      {
        details: { source, problems: r.problems.slice(0, 20) },
      },
    );
  }
  const bindings = value as WorkerBindings;
  for (const [id, b] of Object.entries(bindings.bindings)) if (b !== undefined) checkBinding(id, b);
  return { bindings, digest: digest(bindings) };
}

/** Read and validate a worker-bindings file (dwm.workers.json). */
export function loadWorkerBindings(file: string): { bindings: WorkerBindings; digest: Digest } {
  let value: unknown;
  try {
    value = readJsonFile(file);
  } catch (e) {
    if (!isDwmError(e)) throw e;
    throw executorErrors.create(
      "ERR_EXEC_BINDINGS_INVALID",
      `cannot read worker bindings ${file}: ${e.message}`,
      {
        details: { file },
        cause: e,
      },
    );
  }
  return parseWorkerBindings(value, file);
}

/** Bindings that run every worker with one backend (`dwm exec --backend`). */
export function uniformBindings(binding: WorkerBinding): WorkerBindings {
  return { kind: "worker-bindings", schema_version: "1", bindings: { "*": binding } };
}

/**
 * The binding of each of the packet's workers (a worker id wins over `*`), as an attempt
 * request carries it. A packet with a `command` needs no binding.
 */
export function resolveBinding(
  bindings: WorkerBindings,
  bindingsDigest: Digest,
  packet: Packet,
): ResolvedBinding {
  const workers: Record<string, WorkerBinding> = {};
  if (packet.command === undefined) {
    for (const w of packet.workers) {
      const b = bindings.bindings[w.id] ?? bindings.bindings["*"];
      if (b === undefined) {
        throw executorErrors.create(
          "ERR_EXEC_NO_BINDING",
          `no backend is bound to worker ${JSON.stringify(w.id)}, which ${packet.packet_id} needs`,
          {
            details: { worker_id: w.id, packet_id: packet.packet_id },
          },
        );
      }
      workers[w.id] = b;
    }
  }
  return { bindings_digest: bindingsDigest, workers };
}
