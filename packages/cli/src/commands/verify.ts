import { verifyRun } from "@dwm/runtime";
import type { VerifyReport } from "@dwm/schemas";
import { assuranceLine, unsandboxedAttemptsOf } from "../assurance.js";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { recoverableByRun, recoveryOf } from "../internal/recoverable.js";
import { resolveRun } from "../run-arg.js";

/** Which key signed what: one line per trusted signer, then each refused or bad signed file. */
function signedBy(report: VerifyReport): string[] {
  const sigs = report.signatures ?? [];
  if (sigs.length === 0) return [];
  const bySigner = new Map<string, Map<string, number>>();
  for (const s of sigs) {
    if (s.status !== "good") continue;
    const who = `${s.signer} (${s.key_id})`;
    const kinds = bySigner.get(who) ?? new Map<string, number>();
    kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
    bySigner.set(who, kinds);
  }
  const lines = ["signatures:"];
  for (const [who, kinds] of bySigner)
    lines.push(
      `  signed by ${who}: ${[...kinds].map(([k, n]) => `${n} ${k}${n === 1 ? "" : "s"}`).join(", ")}`,
    );
  for (const s of sigs) {
    // A refused approval whose signature does not hold is a forgery on record: no damage (the
    // journal pins it and nothing counts it), but someone wrote into the run store.
    if (s.status === "refused" && s.signer === null)
      lines.push(
        `  warning: ${s.file} is a forged approval the runner refused, never counted: ${s.detail}; something other than \`dwm approve\` wrote into the run store`,
      );
    else if (s.status === "refused")
      lines.push(`  refused, never counted: ${s.file} (signed by ${s.signer}): ${s.detail}`);
    else if (s.status === "bad") lines.push(`  BAD: ${s.file} (key ${s.key_id ?? "none"}): ${s.detail}`);
  }
  return lines;
}

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
    ? [
        `${head}`,
        "intact: every digest matches, the journal chain is unbroken, every signature holds.",
        ...signedBy(report),
      ].join("\n")
    : [
        head,
        `${report.problems.length} problem(s):`,
        ...report.problems.map(
          (p) =>
            `  ${p.code}  ${p.file}${p.seq === undefined ? "" : ` (event ${p.seq})`}: ${p.message}` +
            (p.expected === undefined
              ? ""
              : `\n      expected ${p.expected}\n      actual   ${p.actual ?? "-"}`) +
            (recoverableByRun(p) ? `\n      repairable: \`dwm run ${r.ref}\` ${recoveryOf(p)}` : ""),
        ),
        ...signedBy(report),
      ].join("\n");
  return { exitCode: report.ok ? 0 : 3, output: report, text };
}
