import type { CommandSpec, OptionSpec } from "./command.js";

const json: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "Print one JSON document on stdout (schema in @dwm/schemas)." },
};

/**
 * Every command of `dwm`. The command reference (`dwm commands`, `dwm --help`)
 * is built from this list; modules load lazily so start-up stays fast.
 */
export const COMMANDS: CommandSpec[] = [
  {
    name: "doctor",
    usage: "dwm doctor [--json]",
    summary: "Check the environment: Node, git, worktrees, agent CLIs, the current repository.",
    positionals: { min: 0, max: 0 },
    options: { ...json },
    load: () => import("./commands/doctor.js"),
  },
  {
    name: "commands",
    usage: "dwm commands [--json]",
    summary: "The command reference: every command, its usage and options, and the exit codes.",
    positionals: { min: 0, max: 0 },
    options: { ...json },
    load: () => import("./commands/commands.js"),
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
