export { GATE_CATEGORIES, RISK_CATEGORIES, type RiskCategory } from "./categories.js";
export * from "./generated/index.js";
export type { SchemaProblem, ValidationResult } from "./validate.js";
export { assertValid, loadSchema, schemaPath, validateSchema } from "./validate.js";
