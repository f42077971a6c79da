// Example workflows copied into fresh git repositories, with every worker wrapped so each start is
// logged (packet id per line): that log, not the journal, is how re-runs are counted.
import fs from "node:fs";
import path from "node:path";
import { git, makeGitRepo, type TempDir, trustTestOperator } from "@dwm/test-utils";
import { EXAMPLES } from "./dwm.js";

/** Logs `$DWM_PACKET_ID` to $DWM_RELIABILITY_LOG, waits for $DWM_RELIABILITY_HOLD, runs the wrapped argv. */
const WRAPPER = `// reliability harness: log that this packet's worker started, then run the real worker.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
if (process.env.DWM_RELIABILITY_LOG)
  fs.appendFileSync(process.env.DWM_RELIABILITY_LOG, \`\${process.env.DWM_PACKET_ID}\\n\`);
// DWM_RELIABILITY_HOLD: wait (at most 2 minutes) until that file exists.
const hold = process.env.DWM_RELIABILITY_HOLD;
const cell = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; hold && !fs.existsSync(hold) && i < 6000; i++) Atomics.wait(cell, 0, 0, 20);
const [cmd, ...args] = process.argv.slice(2);
const r = spawnSync(cmd, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
`;

export const WRAPPED_ENV = ["DWM_RELIABILITY_LOG", "DWM_RELIABILITY_HOLD", "DWM_EXAMPLE_SLOW_MS"];

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

interface Bindings {
  bindings: Record<string, { backend: string; argv?: string[]; pass_env?: string[] }>;
}

/**
 * A git repository holding examples/<name>, committed, with each shell binding wrapped by the
 * start logger and allowed the variables in `passEnv`. `edit` may change files before the commit.
 */
export function exampleRepo(
  name: string,
  options: { passEnv?: string[]; edit?: (dir: string) => void } = {},
): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  copyDir(path.join(EXAMPLES, name), repo.path);
  fs.writeFileSync(path.join(repo.path, "reliability-wrapper.mjs"), WRAPPER);
  const file = path.join(repo.path, "dwm.workers.json");
  const b = JSON.parse(fs.readFileSync(file, "utf8")) as Bindings;
  for (const v of Object.values(b.bindings)) {
    if (v.backend === "shell" && v.argv) v.argv = ["node", "reliability-wrapper.mjs", ...v.argv];
    v.pass_env = [...new Set([...(v.pass_env ?? []), ...WRAPPED_ENV, ...(options.passEnv ?? [])])];
  }
  fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
  options.edit?.(repo.path);
  // The test operator (DWM_CONFIG_DIR of baseEnv) is trusted: its approvals count here.
  trustTestOperator(repo.path);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", `example ${name}`);
  return repo;
}

/** Lines of the start log (packet ids), empty when none started yet. */
export function starts(log: string): string[] {
  if (!fs.existsSync(log)) return [];
  return fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
}
