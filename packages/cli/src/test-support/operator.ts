// The operator of the CLI's tests: the fixed test key in a DWM config directory of its own
// (never the machine's ~/.config/dwm), trusted by the repositories the tests make.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { git, trustTestOperator, writeTestOperatorConfig } from "@dwm/test-utils";

let dir: string | null = null;

/** DWM_CONFIG_DIR holding the test operator's key, made once per test process. */
export function operatorEnv(): { DWM_CONFIG_DIR: string } {
  if (dir === null || !fs.existsSync(dir)) {
    dir = writeTestOperatorConfig(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-test-operator-")));
    const made = dir;
    process.once("exit", () => fs.rmSync(made, { recursive: true, force: true }));
  }
  return { DWM_CONFIG_DIR: dir };
}

/** Trust the test operator in `repo` (dwm.operators.json), committed. */
export function trustOperator(repo: string): void {
  trustTestOperator(repo);
  git(repo, "add", "dwm.operators.json");
  git(repo, "commit", "-q", "-m", "trust the test operator");
}
