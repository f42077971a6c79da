import { parseArgs } from "node:util";
import { EXIT, fsErrorOf, isDwmError, systemClock } from "@dwm/core";
import type { ErrorOutput } from "@dwm/schemas";
import type { CommandContext, CommandResult, CommandSpec, ParsedArgs } from "./command.js";
import { cliErrors } from "./errors.js";
import { COMMANDS, findCommand } from "./registry.js";
import { dwmVersion } from "./version.js";

export const EXIT_CODE_MEANINGS = {
  "0": "success, or the run is complete",
  "1": "failure or invalid input",
  "2": "usage error",
  "3": "integrity failure (tampered or stale artifact)",
  "4": "stopped at a human gate",
  "5": "budget exhausted",
} as const;

/** Where `main` writes; the bin passes the process streams, tests pass buffers. */
export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "dwm — the Deterministic Workflow Machine",
    "",
    "Usage: dwm <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Global options:",
    "  --help, -h     Show help (for a command: dwm <command> --help)",
    "  --version, -v  Print the version",
    "  --json         One JSON document on stdout",
    "",
    "Exit codes: 0 ok/complete, 1 failure, 2 usage, 3 integrity, 4 stopped at a gate, 5 budget.",
    "Set DWM_DEBUG=1 to see stack traces of unexpected errors.",
  ].join("\n");
}

function commandHelp(spec: CommandSpec): string {
  const opts = Object.entries(spec.options).map(
    ([n, o]) => `  --${n}${o.type === "string" ? " <value>" : ""}`.padEnd(26) + o.description,
  );
  return [`Usage: ${spec.usage}`, "", spec.summary, ...(opts.length ? ["", "Options:", ...opts] : [])].join(
    "\n",
  );
}

function printResult(io: Io, result: CommandResult, json: boolean): void {
  if (json) {
    io.stdout(`${JSON.stringify(result.output, null, 2)}\n`);
  } else {
    const text =
      result.text ??
      (typeof result.output === "string" ? result.output : JSON.stringify(result.output, null, 2));
    if (text) io.stdout(text.endsWith("\n") ? text : `${text}\n`);
  }
}

function printError(io: Io, e: unknown, json: boolean, env: CommandContext["env"]): number {
  const debug = env.DWM_DEBUG === "1";
  // A file-system failure a user can meet (disk full, wrong file kind, permissions) has its own
  // code; ERR_CLI_INTERNAL is left for bugs.
  const err = isDwmError(e)
    ? e
    : (fsErrorOf(e) ??
      cliErrors.create("ERR_CLI_INTERNAL", e instanceof Error ? e.message : String(e), { cause: e }));
  const code = err.exitCode;
  if (json) {
    const doc: ErrorOutput = {
      kind: "error",
      schema_version: "1",
      ok: false,
      exit_code: code,
      error: err.toJSON(),
    };
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  }
  io.stderr(`error ${err.code}: ${err.message}\n`);
  if (err.hint) io.stderr(`hint: ${err.hint}\n`);
  if (debug) io.stderr(`${(isDwmError(e) ? e : (e as Error))?.stack ?? ""}\n`);
  return code;
}

/**
 * What the command line asks before naming a command: `dwm` (usage, exit 2), `dwm --help`,
 * `dwm help [command]`, `dwm --version`. Prints the answer and returns the exit code; null
 * when `first` is a command name.
 */
export function topLevel(first: string | undefined, rest: string[], io: Io, json: boolean): number | null {
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const spec = first === "help" && rest[0] ? findCommand(rest[0]) : undefined;
    if (spec) {
      io.stdout(`${commandHelp(spec)}\n`);
      return EXIT.ok;
    }
    io.stdout(`${helpText()}\n`);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-v") {
    io.stdout(json ? `${JSON.stringify({ version: dwmVersion() })}\n` : `${dwmVersion()}\n`);
    return EXIT.ok;
  }
  return null;
}

/** Parse a command's options strictly and check its number of arguments; either mistake is ERR_CLI_USAGE. */
export function parseCommandArgs(spec: CommandSpec, rest: string[]): Omit<ParsedArgs, "json"> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(
        Object.entries(spec.options).map(([n, o]) => [
          n,
          {
            type: o.type,
            ...(o.short ? { short: o.short } : {}),
            ...(o.multiple ? { multiple: true } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw cliErrors.create("ERR_CLI_USAGE", `${spec.name}: ${(e as Error).message}`, {
      hint: `Usage: ${spec.usage}`,
    });
  }
  const { min, max } = spec.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `${spec.name} takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${parsed.positionals.length}`,
      { hint: `Usage: ${spec.usage}` },
    );
  }
  return {
    positionals: parsed.positionals,
    values: parsed.values as Record<string, string | boolean | string[] | undefined>,
  };
}

/** Parse, dispatch, print. Returns the exit code; never throws. */
export async function main(argv: string[], io: Io, partial: Partial<CommandContext> = {}): Promise<number> {
  const ctx: CommandContext = {
    cwd: partial.cwd ?? process.cwd(),
    env: partial.env ?? process.env,
    clock: partial.clock ?? systemClock,
    isTTY: partial.isTTY ?? false,
    emit: partial.emit ?? ((line) => io.stdout(`${line}\n`)),
  };
  const json = argv.includes("--json");
  try {
    const [first, ...rest] = argv;
    const answered = topLevel(first, rest, io, json);
    if (answered !== null) return answered;
    const spec = findCommand(first as string);
    if (!spec) {
      throw cliErrors.create("ERR_CLI_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(first)}`, {
        details: { command: first },
      });
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout(`${commandHelp(spec)}\n`);
      return EXIT.ok;
    }
    const parsed = parseCommandArgs(spec, rest);
    const mod = await spec.load();
    const result = await mod.run({ ...parsed, json }, ctx);
    printResult(io, result, json);
    for (const w of result.warnings ?? []) io.stderr(`warning: ${w}\n`);
    return result.exitCode;
  } catch (e) {
    return printError(io, e, json, ctx.env);
  }
}
