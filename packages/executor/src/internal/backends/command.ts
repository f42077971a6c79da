import type { WorkerBinding } from "@dwm/schemas";
import { parseGeneric } from "../json-lines.js";
import { type Backend, type InvocationPaths, noGateway, type PlannedInvocation } from "./backend.js";

function fill(template: string, paths: InvocationPaths): string {
  return template
    .replaceAll("{prompt_file}", paths.promptFile)
    .replaceAll("{worktree}", paths.worktree)
    .replaceAll("{output_dir}", paths.outputDir);
}

function planCommand(b: WorkerBinding, _permissions: unknown, paths: InvocationPaths): PlannedInvocation {
  return {
    backend: "command",
    argv: (b.argv ?? []).map((a) => fill(a, paths)),
    stdin: b.stdin ?? "none",
    readTranscript: b.transcript === "stdout" ? parseGeneric : null,
    outputDir: true,
  };
}

/** command: any other agent CLI from an argv template with `{prompt_file}`, `{worktree}`, `{output_dir}`. */
export const commandBackend: Backend = {
  bindingProblem: (b) => (b.argv === undefined ? "the command backend needs an `argv` template" : null),
  plan: planCommand,
  gatewayEnv: noGateway,
};
