import type { BackendName } from "@dwm/schemas";

/** Every backend a binding may name (BackendName of worker-bindings.schema.json). */
export const BACKEND_NAMES = [
  "dry-run",
  "shell",
  "codex",
  "claude",
  "command",
] as const satisfies readonly BackendName[];

/**
 * The backends one name binds every worker to (`--backend`, the MCP run tool's `backend`):
 * shell and command run an argv, which only a bindings file gives.
 */
export const FLAG_BACKENDS = ["dry-run", "codex", "claude"] as const satisfies readonly BackendName[];

// A backend the schema adds and this list lacks is a type error here.
const everyBackend: Exclude<BackendName, (typeof BACKEND_NAMES)[number]> extends never ? true : never = true;
void everyBackend;
