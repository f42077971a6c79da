import type { CommandResult } from "../command.js";
import { commandList } from "../internal/command-list.js";
import { COMMANDS } from "../registry.js";

/** `dwm commands`: every command, its usage and options, and the exit codes. */
export async function run(): Promise<CommandResult> {
  const list = commandList(COMMANDS);
  const lines: string[] = ["DWM commands", ""];
  for (const c of list.commands) {
    lines.push(`  ${c.usage}`, `      ${c.summary}`);
    for (const o of c.options) lines.push(`        ${o.name.padEnd(16)} ${o.description}`);
    lines.push("");
  }
  lines.push("Exit codes:");
  for (const [k, v] of Object.entries(list.exit_codes)) lines.push(`  ${k}  ${v}`);
  return { exitCode: 0, output: list, text: lines.join("\n") };
}
