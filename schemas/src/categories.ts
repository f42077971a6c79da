import type { GateCategory } from "./generated/index.js";
import { loadSchema } from "./validate.js";

interface EnumAt {
  properties: { category: { enum: GateCategory[] } };
}

/**
 * Every gate category, read from gate.schema.json (its enum, in its order: the risk
 * categories, then `human-review`), so code and schema cannot drift apart.
 */
export const GATE_CATEGORIES: readonly GateCategory[] = Object.freeze([
  ...(loadSchema("gate") as unknown as EnumAt).properties.category.enum,
]);

/** A category a risk gate of a plan can name: every gate category but `human-review`. */
export type RiskCategory = Exclude<GateCategory, "human-review">;

/**
 * The risk categories, in gate.schema.json's order: what `dwm run --approve` and an
 * approval policy may approve in advance (approval-policy.schema.json lists the same).
 */
export const RISK_CATEGORIES: readonly RiskCategory[] = Object.freeze(
  GATE_CATEGORIES.filter((c): c is RiskCategory => c !== "human-review"),
);
