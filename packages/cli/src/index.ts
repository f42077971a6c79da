export type {
  CommandContext,
  CommandModule,
  CommandResult,
  CommandSpec,
  OptionSpec,
  ParsedArgs,
} from "./command.js";
export type { Io } from "./main.js";
export { EXIT_CODE_MEANINGS, main } from "./main.js";
export { COMMANDS } from "./registry.js";
