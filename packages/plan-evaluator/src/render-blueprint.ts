import type { WorkflowPlan } from "@dwm/schemas";

/**
 * Render a valid plan as a short markdown blueprint, derived only from the plan
 * (the earlier version's format): title, objective, activation, patterns, first
 * slice, risk gates. LF line endings, exactly one final newline.
 */
export function renderBlueprint(plan: WorkflowPlan): string {
  const fs = plan.execution_path.first_slice;
  const gates = plan.risk_gates.length
    ? plan.risk_gates.map((g) => {
        // 0.6: a structured safe default reads as its action and what it comes before.
        const sd = g.safe_default;
        return `- ${g.trigger}: ${typeof sd === "string" ? sd : `${sd.action} before ${sd.before}`}`;
      })
    : ["- none"];
  return [
    `# ${plan.plan_id}`,
    "",
    `Objective: ${plan.objective}`,
    `Activation: ${plan.activation.decision} (${plan.activation.reason})`,
    `Patterns: ${plan.patterns.length ? plan.patterns.join(", ") : "none"}`,
    "",
    "## First Slice",
    "",
    fs.instruction,
    "",
    `Completion check: ${fs.completion_check}`,
    "",
    "## Risk Gates",
    "",
    ...gates,
    "",
  ].join("\n");
}
