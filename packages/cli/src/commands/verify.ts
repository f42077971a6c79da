import { verifyRun } from "@dwm/runtime";
import { assuranceLine, unsandboxedAttemptsOf } from "../assurance.js";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { resolveRun } from "../run-arg.js";

/** `dwm verify [run]`: every digest, the journal chain and the run store's files; exit 3 on any problem. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const verified = verifyRun(r.runDir);
  const unsandboxed = unsandboxedAttemptsOf(r.runDir);
  const report = unsandboxed > 0 ? { ...verified, unsandboxed_attempts: unsandboxed } : verified;
  const head =
    `run ${report.run_id ?? r.runId}: ${report.events} journal events, ${report.files_checked} files checked` +
    (unsandboxed > 0 ? `\n${assuranceLine(unsandboxed)}` : "");
  const text = report.ok
    ? `${head}\nintact: every digest matches and the journal chain is unbroken.`
    : [
        head,
        `${report.problems.length} problem(s):`,
        ...report.problems.map(
          (p) =>
            `  ${p.code}  ${p.file}${p.seq === undefined ? "" : ` (event ${p.seq})`}: ${p.message}` +
            (p.expected === undefined
              ? ""
              : `\n      expected ${p.expected}\n      actual   ${p.actual ?? "-"}`) +
            (p.repairable ? `\n      repairable: \`dwm run ${r.ref}\` truncates the incomplete line` : ""),
        ),
      ].join("\n");
  return { exitCode: report.ok ? 0 : 3, output: report, text };
}
