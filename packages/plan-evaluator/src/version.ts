/** Version of the evaluator recorded in every scorecard. Kept equal to package.json by a test. */
export const EVALUATOR_VERSION = "0.2.0";
