import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { decide } from "./approve.js";

export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  return decide(args, ctx, "reject");
}
