import fs from "node:fs";
import path from "node:path";
import type { Digest } from "@dwm/core";
import {
  loadWorkerBindings,
  parseWorkerBindings,
  uniformBindings,
  WORKER_BINDINGS_FILE,
} from "@dwm/executor";
import type { BackendName, WorkerBindings } from "@dwm/schemas";
import type { CommandContext, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { BACKEND_NAMES, FLAG_BACKENDS } from "./backend-names.js";
import { didYouMean } from "./suggest.js";

/** Where the bindings came from: the flag, the file (relative to the working directory), or none. */
export interface FoundBindings {
  bindings: WorkerBindings;
  digest: Digest;
  source: string | null;
}

/** No binding at all: enough for a run whose phases are all commands and gates. */
function noBindings(): FoundBindings {
  const empty: WorkerBindings = { kind: "worker-bindings", schema_version: "1", bindings: {} };
  return { ...parseWorkerBindings(empty, "no bindings"), source: null };
}

function flagBindings(backend: string): FoundBindings {
  if (!(FLAG_BACKENDS as readonly string[]).includes(backend)) {
    const needsArgv = backend === "shell" || backend === "command";
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      needsArgv
        ? `--backend ${backend} cannot bind a worker: the ${backend} backend runs an argv, which only a bindings file gives`
        : `--backend must be one of ${FLAG_BACKENDS.join(", ")}, not ${JSON.stringify(backend)}${didYouMean(backend, BACKEND_NAMES)}`,
      {
        hint: needsArgv
          ? `Write ${WORKER_BINDINGS_FILE} beside the plan, e.g. {"kind": "worker-bindings", "schema_version": "1", "bindings": {"*": {"backend": "${backend}", "argv": ["node", "scripts/work.mjs"]}}} (docs/backends.md), and run again without --backend.`
          : `Pass --backend dry-run, --backend codex or --backend claude, or bind each worker in ${WORKER_BINDINGS_FILE} (docs/backends.md).`,
      },
    );
  }
  return {
    ...parseWorkerBindings(uniformBindings({ backend: backend as BackendName }), `--backend ${backend}`),
    source: `--backend ${backend}`,
  };
}

/**
 * The worker bindings of `dwm run` and `dwm exec`: `--backend`, else `--workers FILE`, else
 * dwm.workers.json in the first of `dirs` that has one, else none (a packet whose workers then
 * lack a binding is refused with ERR_EXEC_NO_BINDING before anything runs).
 */
export function findBindings(args: ParsedArgs, ctx: CommandContext, dirs: readonly string[]): FoundBindings {
  const backend = args.values.backend;
  if (typeof backend === "string") return flagBindings(backend);
  if (typeof args.values.workers === "string") {
    const file = path.resolve(ctx.cwd, args.values.workers);
    return { ...loadWorkerBindings(file), source: args.values.workers };
  }
  for (const d of dirs) {
    const file = path.join(d, WORKER_BINDINGS_FILE);
    if (fs.existsSync(file))
      return { ...loadWorkerBindings(file), source: path.relative(ctx.cwd, file) || file };
  }
  return noBindings();
}
