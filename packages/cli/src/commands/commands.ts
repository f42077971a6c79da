import type { CommandList } from "@dwm/schemas";
import type { CommandResult } from "../command.js";
import { EXIT_CODE_MEANINGS } from "../main.js";
import { COMMANDS } from "../registry.js";

export async function run(): Promise<CommandResult> {
  const list: CommandList = {
    kind: "command-list",
    schema_version: "1",
    commands: COMMANDS.map((c) => ({
      name: c.name,
      usage: c.usage,
      summary: c.summary,
      options: Object.entries(c.options).map(([name, o]) => ({
        name: `--${name}`,
        type: o.type,
        description: o.description,
        ...(o.multiple ? { multiple: true } : {}),
      })),
    })),
    exit_codes: Object.fromEntries(Object.entries(EXIT_CODE_MEANINGS).map(([k, v]) => [k, v])),
  };
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
