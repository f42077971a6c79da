import type { PlanWarning } from "@dwm/schemas";
import { planEvaluatorWarnings } from "../warnings.js";
import { arr, obj, pointer, show, str, strings } from "./problems.js";

/** Formats whose required_fields the review reads from the content, not looks for as text. */
const STRUCTURED = new Set(["json", "json-list", "jsonl"]);

/** More words than a heading or label usually has. */
const MAX_MARKER_WORDS = 5;

/** Openings of a description rather than a name: "a list of routes", "each route's owner". */
const DESCRIPTIVE_START = /^(a|an|the|each|every|all|any|some|list of|one or more)\s/i;

/** Why a field of a text handoff reads as a description rather than a marker the file contains, or null. */
export function proseReason(field: string): string | null {
  const f = field.trim();
  const words = f.split(/\s+/).length;
  if (words > MAX_MARKER_WORDS) return `it has ${words} words`;
  if (/<[^>]*>|\{[^}]*\}|\.\.\.|…/.test(f)) return "it has a placeholder";
  if (/[,;!?]|\.(\s|$)/.test(f)) return "it has sentence punctuation";
  if (DESCRIPTIVE_START.test(f)) return "it starts like a description";
  return null;
}

/**
 * Warnings for handoffs whose format is text (markdown, patch, test-log, rendered-artifact,
 * other) and whose required_fields read as descriptions: the review looks for each field
 * literally in the file (markdown: as a heading, `field:` label or `**field**`), so a
 * description will not be found and the producer's every attempt will be sent back.
 */
export function textFieldWarnings(plan: Record<string, unknown>): PlanWarning[] {
  const out: PlanWarning[] = [];
  const hint = planEvaluatorWarnings.WARN_PLAN_TEXT_FIELD_PROSE.hint;
  arr(plan.handoffs).forEach((h, i) => {
    const handoff = obj(h);
    const schema = obj(handoff.artifact_schema);
    const format = str(schema.format);
    if (format === undefined || STRUCTURED.has(format)) return;
    for (const [field, j] of strings(schema.required_fields)) {
      const why = proseReason(field);
      if (why === null) continue;
      out.push({
        code: "WARN_PLAN_TEXT_FIELD_PROSE",
        pointer: pointer("handoffs", i, "artifact_schema", "required_fields", j),
        message: `required field ${show(field)} of ${format} handoff ${show(str(handoff.artifact) ?? "?")} reads as a description (${why}); the review looks for it literally in the file`,
        hint,
      });
    }
  });
  return out;
}
