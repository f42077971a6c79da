import type { WorkerBinding } from "@dwm/schemas";
import { type Backend, noGateway, type PlannedInvocation } from "./backend.js";

/** dry-run: records what would run; runs nothing. */
export const dryRunBackend: Backend = {
  bindingProblem: () => null,
  plan: () => ({ backend: "dry-run", argv: [], stdin: "none", readTranscript: null, outputDir: false }),
  gatewayEnv: noGateway,
};

function shellBindingProblem(b: WorkerBinding): string | null {
  if (b.shell === true) {
    if (b.command === undefined) return "shell: true needs `command`";
    if (b.argv !== undefined) return "give either `argv` or `shell: true` with `command`, not both";
    return null;
  }
  if (b.command !== undefined) return "`command` runs through a shell only with `shell: true`";
  if (b.argv === undefined) return "the shell backend needs `argv`";
  return null;
}

function planShell(b: WorkerBinding): PlannedInvocation {
  return {
    backend: "shell",
    argv: b.shell === true ? ["sh", "-c", b.command ?? ""] : [...(b.argv ?? [])],
    stdin: "none",
    readTranscript: null,
    outputDir: false,
  };
}

/** shell: an argv from the plan, without a shell unless the binding asks for one. */
export const shellBackend: Backend = {
  bindingProblem: shellBindingProblem,
  plan: planShell,
  gatewayEnv: noGateway,
};
