import { parseArgs } from "node:util";
import { EXIT, isDwmError, systemClock } from "@dwm/core";
import type { ErrorOutput } from "@dwm/schemas";
import type { CommandContext, CommandResult, CommandSpec, OptionSpec, ParsedArgs } from "./command.js";
import { cliErrors } from "./errors.js";
import { commandList } from "./internal/command-list.js";
import { codedErrorOf } from "./internal/error-of.js";
import { didYouMean } from "./internal/suggest.js";
import { COMMANDS, findCommand } from "./registry.js";
import { dwmVersion } from "./version.js";

export { EXIT_CODE_MEANINGS } from "./exit-codes.js";

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
  const err = codedErrorOf(e);
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

/** Help as text, or (under --json) as the command-list document of the commands it covers. */
function printHelp(io: Io, json: boolean, spec: CommandSpec | undefined): void {
  if (json) io.stdout(`${JSON.stringify(commandList(spec ? [spec] : COMMANDS), null, 2)}\n`);
  else io.stdout(`${spec ? commandHelp(spec) : helpText()}\n`);
}

/**
 * What the command line asks before naming a command: `dwm` (usage, exit 2), `dwm --help`,
 * `dwm help [command]`, `dwm --version`. Prints the answer (as JSON under --json) and returns
 * the exit code; null when `first` is a command name.
 */
export function topLevel(first: string | undefined, rest: string[], io: Io, json: boolean): number | null {
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const spec = first === "help" && rest[0] ? findCommand(rest[0]) : undefined;
    printHelp(io, json, spec);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-v") {
    io.stdout(json ? `${JSON.stringify({ version: dwmVersion() })}\n` : `${dwmVersion()}\n`);
    return EXIT.ok;
  }
  return null;
}

/** A usage error of one command, with its usage as the hint. */
function usage(spec: CommandSpec, message: string): Error {
  return cliErrors.create("ERR_CLI_USAGE", `${spec.name}: ${message}`, { hint: `Usage: ${spec.usage}` });
}

/** The option a token names (`--name`, `--name=value`, `-x`), or an error naming the closest one. */
function optionOf(spec: CommandSpec, token: string): { name: string; opt: OptionSpec; inline: boolean } {
  const eq = token.indexOf("=");
  const long = token.startsWith("--");
  const name = long
    ? token.slice(2, eq < 0 ? undefined : eq)
    : Object.entries(spec.options).find(([, o]) => o.short === token.slice(1, 2))?.[0];
  const opt = name === undefined ? undefined : spec.options[name];
  if (name !== undefined && opt !== undefined) return { name, opt, inline: eq >= 0 };
  const names = Object.keys(spec.options);
  const hint = didYouMean(long ? (name ?? "") : token.slice(1), names, (n) => `--${n}`);
  const takes = `; it takes ${names.map((n) => `--${n}`).join(", ") || "no option"}`;
  throw usage(spec, `no option ${token.split("=")[0]}${hint || takes}`);
}

/**
 * Check every option token before node:util parseArgs sees them, so a mistake is reported in
 * DWM's words (with the closest option when it looks like a slip): an unknown option, a
 * value given to a switch, a missing value.
 */
export function checkOptions(spec: CommandSpec, rest: readonly string[]): void {
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === "--") return;
    if (!a.startsWith("-") || a === "-") continue;
    const { name, opt, inline } = optionOf(spec, a);
    if (opt.type === "boolean" && inline) throw usage(spec, `--${name} is a switch: it takes no value`);
    if (opt.type !== "string" || inline) continue;
    const next = rest[i + 1];
    if (next === undefined) throw usage(spec, `--${name} needs a value`);
    if (next.startsWith("-") && next !== "-")
      throw usage(spec, `--${name} needs a value (for one that starts with -, write --${name}=${next})`);
    i++;
  }
}

/** Parse a command's options strictly and check its number of arguments; either mistake is ERR_CLI_USAGE. */
export function parseCommandArgs(spec: CommandSpec, rest: string[]): Omit<ParsedArgs, "json"> {
  checkOptions(spec, rest);
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
  } catch {
    // checkOptions reports every mistake parseArgs knows of; this is a guard, in DWM's words.
    throw usage(spec, "the options could not be read");
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

/** The command a name stands for, or ERR_CLI_UNKNOWN_COMMAND naming the closest one. */
function commandOf(name: string): CommandSpec {
  const spec = findCommand(name);
  if (spec) return spec;
  const hint = didYouMean(
    name,
    COMMANDS.map((c) => c.name),
  );
  throw cliErrors.create("ERR_CLI_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(name)}${hint}`, {
    details: { command: name },
  });
}

/** Parse, dispatch, print. Returns the exit code; never throws. */
export async function main(argv: string[], io: Io, partial: Partial<CommandContext> = {}): Promise<number> {
  const ctx: CommandContext = {
    cwd: partial.cwd ?? process.cwd(),
    env: partial.env ?? process.env,
    clock: partial.clock ?? systemClock,
    isTTY: partial.isTTY ?? false,
    ...(partial.columns === undefined ? {} : { columns: partial.columns }),
    emit: partial.emit ?? ((line) => io.stdout(`${line}\n`)),
  };
  const json = argv.includes("--json");
  try {
    // --json may come before the command too (`dwm --json status`, `dwm --json --help`).
    const at = argv.findIndex((a) => a !== "--json");
    const [first, ...rest] = argv.slice(at < 0 ? argv.length : at);
    const answered = topLevel(first, rest, io, json);
    if (answered !== null) return answered;
    const spec = commandOf(first as string);
    if (rest.includes("--help") || rest.includes("-h")) {
      printHelp(io, json, spec);
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
