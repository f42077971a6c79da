import type { CommandList } from "@dwm/schemas";
import type { CommandSpec } from "../command.js";
import { EXIT_CODE_MEANINGS } from "../exit-codes.js";

/** The command reference of these commands as the `command-list` document (`dwm commands --json`, `--help --json`). */
export function commandList(specs: readonly CommandSpec[]): CommandList {
  return {
    kind: "command-list",
    schema_version: "1",
    commands: specs.map((c) => ({
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
    exit_codes: { ...EXIT_CODE_MEANINGS },
  };
}
