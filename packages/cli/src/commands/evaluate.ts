import path from "node:path";
import { evaluatePlan, loadPlanFile, renderBlueprint } from "@dwm/plan-evaluator";
import type { Scorecard, WorkflowPlan } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";

function renderScorecard(sc: Scorecard): string {
  const name = sc.plan_id ?? "(no plan_id)";
  // Which schema the plan was read as: 0.5 and 0.6 differ in meaning, so say it first.
  const read = sc.plan_schema_version
    ? `read as schema ${sc.plan_schema_version}`
    : "schema version not read";
  const lines = [`plan ${name} (${read}) ${sc.plan_digest ?? ""}`.trimEnd()];
  if (!sc.valid) {
    lines.push(`INVALID: ${sc.problems.length} problem${sc.problems.length === 1 ? "" : "s"}`, "");
    for (const p of sc.problems) {
      lines.push(`  ${p.pointer || "/"}  ${p.code}`, `    ${p.message}`, `    hint: ${p.hint}`);
    }
    return lines.join("\n");
  }
  lines.push(
    sc.decision === "activate"
      ? "valid: activate"
      : `valid: downgrade to ${sc.downgrade_target ?? "?"} (do not run it as a workflow)`,
  );
  if (sc.summary)
    lines.push(
      `  ${sc.summary.phases} phases, ${sc.summary.workers} workers, ${sc.summary.handoffs} handoffs, ${sc.summary.verification} verification items, ${sc.summary.risk_gates} risk gates`,
    );
  if (sc.scores) {
    lines.push("", `scores (0-2, average ${sc.score_average}):`);
    const w = Math.max(...Object.keys(sc.scores).map((k) => k.length));
    for (const [k, v] of Object.entries(sc.scores)) lines.push(`  ${k.padEnd(w)}  ${v.score}  ${v.reason}`);
  }
  return lines.join("\n");
}

/** `dwm evaluate <plan> [--json] [--render]`: validate and score a plan; exit 0 valid, 1 invalid. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const file = args.positionals[0] as string;
  const render = args.values.render === true;
  if (render && args.json) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      "evaluate: --render prints markdown; it cannot be combined with --json",
      {
        hint: "Use `dwm evaluate <plan> --json` for the scorecard, or `--render` for the blueprint.",
      },
    );
  }
  const { plan } = loadPlanFile(path.resolve(ctx.cwd, file), { source: file });
  const scorecard = evaluatePlan(plan, { source: file });
  const exitCode = scorecard.valid ? 0 : 1;
  if (args.json) return { exitCode, output: scorecard };
  if (render && scorecard.valid) {
    return { exitCode, output: renderBlueprint(plan as WorkflowPlan) };
  }
  return { exitCode, output: renderScorecard(scorecard) };
}
