import type { CompletionScript } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { completionScript, SHELLS, type Shell } from "../internal/completion.js";
import { didYouMean } from "../internal/suggest.js";
import { COMMANDS } from "../registry.js";

/** `dwm completion bash|zsh|fish`: the shell's completion script, built from the command registry. */
export async function run(args: ParsedArgs, _ctx: CommandContext): Promise<CommandResult> {
  const shell = args.positionals[0] as string;
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      `completion: no script for ${JSON.stringify(shell)}${didYouMean(shell, SHELLS)}; one of ${SHELLS.join(", ")}`,
      { hint: "Usage: dwm completion bash|zsh|fish" },
    );
  }
  const script = completionScript(shell as Shell, COMMANDS);
  const output: CompletionScript = {
    kind: "completion-script",
    schema_version: "1",
    shell: shell as Shell,
    script,
  };
  return { exitCode: 0, output, text: script };
}
