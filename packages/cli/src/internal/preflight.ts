import { checkStore } from "@dwm/runtime";
import type { VerifyProblem, VerifyReport } from "@dwm/schemas";
import { cliErrors } from "../errors.js";

/** How many problems the refusal's message lists (details.problems has them all). */
const LISTED = 10;

/**
 * The check every command that changes a run makes first (fail closed): the run store must
 * pass `dwm verify`'s checks (through the stat cache of runtime's checkStore, so it is cheap
 * enough to make every time). A problem that is not repairable refuses the command with
 * ERR_CLI_STORE_DAMAGED (exit 3) and the list of problems; crash leftovers and a torn last
 * line pass (`dwm run` recovers them). Returns the report.
 */
export function checkBeforeChange(
  runDir: string,
  command: string,
  ref: string,
  /** Problems the command itself repairs and journals (a recompile: files it writes anyway). */
  repairs: (p: VerifyProblem) => boolean = () => false,
): VerifyReport {
  const report = checkStore(runDir);
  const blocking = report.problems.filter((p) => !p.repairable && !repairs(p));
  if (blocking.length === 0) return report;
  const lines = blocking.slice(0, LISTED).map((p) => `  ${p.code} ${p.file}: ${p.message}`);
  if (blocking.length > LISTED) lines.push(`  … and ${blocking.length - LISTED} more (dwm verify ${ref})`);
  throw cliErrors.create(
    "ERR_CLI_STORE_DAMAGED",
    `refusing to ${command}: the run store of ${report.run_id ?? ref} failed its check (${blocking.length} problem(s)):\n${lines.join("\n")}`,
    {
      hint: `Nothing was changed. \`dwm verify ${ref}\` prints the full report; restore the named files (or the journal) from a backup. DWM never builds on a damaged store and never rebuilds a lost history.`,
      details: { run_dir: runDir, problems: blocking },
    },
  );
}
