import type { Clock } from "@dwm/core";

/** Option of a command, as node:util parseArgs takes it, plus what the reference prints. */
export interface OptionSpec {
  type: "boolean" | "string";
  short?: string;
  multiple?: boolean;
  description: string;
  /** What the value can be, for shell completion: a fixed list, a file or folder, or a run of the store. */
  values?: readonly string[] | "file" | "run";
}

/** What every command gets: the world, through ports, so tests can call commands directly. */
export interface CommandContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  clock: Clock;
  /** stdout is a terminal (live views) */
  isTTY: boolean;
  /** The terminal's width, when stdout is one (live views keep their lines within it). */
  columns?: number;
  /** Streaming output for long-running commands (`dwm run`): one line at a time. */
  emit: (line: string) => void;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
}

/** A command returns its output instead of printing it; only `main` prints. */
export interface CommandResult {
  exitCode: number;
  /** With --json: the JSON document. Without: text for a person. */
  output: unknown;
  /** Text for a person, when `output` is the JSON form. */
  text?: string;
  /** What failed after the command's effect was journaled: printed to stderr; the command still succeeded. */
  warnings?: readonly string[];
}

export interface CommandModule {
  run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult>;
}

export interface CommandSpec {
  name: string;
  /** e.g. "dwm evaluate <plan> [--json] [--render]" */
  usage: string;
  summary: string;
  /** Inclusive bounds on positional arguments. */
  positionals: { min: number; max: number };
  options: Record<string, OptionSpec>;
  load: () => Promise<CommandModule>;
}
