import path from "node:path";
import { evaluatePlan, loadPlanFile, renderBlueprint } from "@dwm/plan-evaluator";
import type { PlanPhase06, Scorecard, WorkflowPlan } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";

/** Schema 0.6 structure of a valid plan, one line each: fan-outs, then command and gate phases. */
function render06(plan: WorkflowPlan): string[] {
  if (plan.schema_version !== "0.6") return [];
  const phases = plan.phases as PlanPhase06[];
  const lines = phases.flatMap((p) => {
    const f = p.fan_out;
    if (!f) return [];
    const chain = [p.id, ...f.pipeline].join(" -> ");
    return [`  fan-out over ${f.over} (key ${f.key}, at most ${f.max_items}): ${chain}, reduce ${f.reduce}`];
  });
  const ids = (keep: (p: PlanPhase06) => boolean) => phases.filter(keep).map((p) => p.id);
  const commands = ids((p) => p.command !== undefined);
  const gates = ids((p) => p.kind === "gate");
  if (commands.length) lines.push(`  command phases: ${commands.join(", ")}`);
  if (gates.length) lines.push(`  gate phases: ${gates.join(", ")}`);
  return lines;
}

/** The plan's warnings, after its problems or scores: valid or not, they say what will likely fail at run time. */
function renderWarnings(sc: Scorecard): string[] {
  const ws = sc.warnings ?? [];
  if (ws.length === 0) return [];
  const lines = ["", `warnings: ${ws.length}`];
  for (const w of ws)
    lines.push(`  ${w.pointer || "/"}  ${w.code}`, `    ${w.message}`, `    hint: ${w.hint}`);
  return lines;
}

function renderScorecard(sc: Scorecard, plan: unknown): string {
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
    return [...lines, ...renderWarnings(sc)].join("\n");
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
  lines.push(...render06(plan as WorkflowPlan));
  if (sc.scores) {
    lines.push("", `scores (0-2, average ${sc.score_average}):`);
    const w = Math.max(...Object.keys(sc.scores).map((k) => k.length));
    for (const [k, v] of Object.entries(sc.scores)) lines.push(`  ${k.padEnd(w)}  ${v.score}  ${v.reason}`);
  }
  return [...lines, ...renderWarnings(sc)].join("\n");
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
  return { exitCode, output: renderScorecard(scorecard, plan) };
}
