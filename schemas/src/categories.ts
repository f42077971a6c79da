import { GATE_CATEGORY_ENUM, type GateCategory } from "./generated/index.js";

/**
 * Every gate category: gate.schema.json's enum in its order (the risk categories, then
 * `human-review`), copied by the generator, whose staleness test keeps code and schema equal.
 */
export const GATE_CATEGORIES: readonly GateCategory[] = Object.freeze([...GATE_CATEGORY_ENUM]);

/** A category a risk gate of a plan can name: every gate category but `human-review`. */
export type RiskCategory = Exclude<GateCategory, "human-review">;

/**
 * The risk categories, in gate.schema.json's order: what `dwm run --approve` and an
 * approval policy may approve in advance (approval-policy.schema.json lists the same).
 */
export const RISK_CATEGORIES: readonly RiskCategory[] = Object.freeze(
  GATE_CATEGORIES.filter((c): c is RiskCategory => c !== "human-review"),
);
