/** One warning the evaluator can report: the plan stays valid, but it will likely not run as meant. */
export interface WarningDescriptor {
  code: string;
  /** One line: what the plan does that will likely fail at run time. */
  title: string;
  /** What the plan author can do about it. */
  hint: string;
}

type WarningCode = "WARN_PLAN_TEXT_FIELD_PROSE";

const table: Readonly<Record<WarningCode, WarningDescriptor>> = {
  WARN_PLAN_TEXT_FIELD_PROSE: {
    code: "WARN_PLAN_TEXT_FIELD_PROSE",
    title:
      "A required field of a text handoff (markdown, patch, test-log, rendered-artifact, other) reads as a description, but the review looks for each field literally in the file.",
    hint: "Name a marker the file will contain (markdown: a heading, a `field:` label or `**field**`; other text: a word or line it must include), or make the handoff json, json-list or jsonl and the field a key.",
  },
};

/**
 * Warnings of @dwm/plan-evaluator (`scorecard.warnings`): they never make a plan invalid
 * or change its scores. `docs/errors.md` lists them.
 */
export const planEvaluatorWarnings = Object.freeze({
  ...table,
  list: (): WarningDescriptor[] => Object.values(table),
});
