import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkStore, LOCK_FILE, runLockHeld, runtimeErrors } from "@dwm/runtime";
import type { VerifyProblem, VerifyReport } from "@dwm/schemas";
import { cliErrors } from "../errors.js";
import { recoverableByRun } from "./recoverable.js";

/** How many problems the refusal's message lists (details.problems has them all). */
const LISTED = 10;
/** How long to wait before looking again while a live runner holds the run. */
const RECHECK_MS = 300;

const key = (p: VerifyProblem) => `${p.code} ${p.file}`;

/** Block this thread for `ms` (the commands that call this are synchronous up to here). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** What a command tells the check. */
export interface PreflightOptions {
  /** Problems the command itself repairs and journals (a recompile: files it writes anyway). */
  repairs?: (p: VerifyProblem) => boolean;
  /** The command takes the run lock: a live holder refuses it at once (ERR_RUN_LOCKED), before the check. */
  needsLock?: boolean;
  /** How it waits before looking again (tests: a step of the runner's). */
  wait?: () => void;
}

/** ERR_RUN_LOCKED when a live runner holds the run (what openJournal would say, without checking first). */
function refuseIfLocked(runDir: string): void {
  const file = path.join(runDir, LOCK_FILE);
  if (!runLockHeld(file, new Date().toISOString(), os.hostname())) return;
  let holder: { pid?: unknown; host?: unknown; expires_at?: unknown } = {};
  try {
    holder = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // being written: held, identity unknown
  }
  const who =
    typeof holder.pid === "number" ? `pid ${holder.pid} on ${String(holder.host)}` : "another process";
  throw runtimeErrors.create("ERR_RUN_LOCKED", `run ${path.basename(runDir)} is locked by ${who}`, {
    details: { pid: holder.pid ?? null, host: holder.host ?? null, expires_at: holder.expires_at ?? null },
  });
}

/**
 * The check every command that changes a run makes first (fail closed): the run store must
 * pass `dwm verify`'s checks (through the stat cache of runtime's checkStore, so it is cheap
 * enough to make every time). A problem that is not repairable refuses the command with
 * ERR_CLI_STORE_DAMAGED (exit 3) and the list of problems; crash leftovers and a torn last
 * line pass (`dwm run` recovers them). While a live runner holds the run, a problem must still
 * be there a moment later to refuse (the runner writes a file just before it journals it).
 * Returns the report.
 */
export function checkBeforeChange(
  runDir: string,
  command: string,
  ref: string,
  options: PreflightOptions = {},
): VerifyReport {
  const repairs = options.repairs ?? (() => false);
  const wait = options.wait ?? (() => sleepMs(RECHECK_MS));
  if (options.needsLock) refuseIfLocked(runDir);
  let report = checkStore(runDir);
  let blocking = report.problems.filter((p) => !recoverableByRun(p) && !repairs(p));
  if (
    blocking.length > 0 &&
    runLockHeld(path.join(runDir, LOCK_FILE), new Date().toISOString(), os.hostname())
  ) {
    // A live runner writes a file a moment before it journals it (a review, a handoff, a fan-out
    // packet): look again once; only what is still wrong then refuses the command.
    wait();
    const first = new Set(blocking.map(key));
    report = checkStore(runDir);
    blocking = report.problems.filter((p) => !recoverableByRun(p) && !repairs(p) && first.has(key(p)));
  }
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
