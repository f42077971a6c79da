import fs from "node:fs";
import path from "node:path";
import { resolveInside } from "@dwm/core";

/** Folder in the worktree where handoff inputs are copied; never part of the diff or the commit. */
export const INPUTS_DIR = ".dwm-inputs";
/** The pathspec that keeps the inputs out of every `git add` and `git diff`. */
export const EXCLUDE_INPUTS = `:(exclude)${INPUTS_DIR}`;

/** Copy the handoff inputs under INPUTS_DIR of the worktree. */
export function copyInputs(worktree: string, inputs: readonly { artifact: string; content: Buffer }[]): void {
  for (const input of inputs) {
    const dest = resolveInside(worktree, `${INPUTS_DIR}/${input.artifact}`, "handoff input");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, input.content);
  }
}
