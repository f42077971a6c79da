import { defineErrors } from "@dwm/core";

/**
 * Errors of @dwm/plan-evaluator. Each code names one rule of the workflow.plan.json
 * contract. evaluatePlan reports them as scorecard problems (all of them, with a JSON
 * pointer); loadPlanFile throws the input ones (too large, not JSON, BOM, too deep).
 */
export const planEvaluatorErrors = defineErrors({
  ERR_PLAN_UNREADABLE: {
    title: "The plan file cannot be read (missing, a directory, or not readable).",
    hint: "Check the path to workflow.plan.json.",
  },
  ERR_PLAN_TOO_LARGE: {
    title: "The plan file is larger than the evaluator accepts (2 MiB).",
    hint: "A workflow plan is a few kilobytes; split the goal into smaller plans.",
  },
  ERR_PLAN_NOT_JSON: {
    title: "The plan is not valid UTF-8 JSON.",
    hint: "Save the file as UTF-8 JSON; for a syntax error the message gives the line and column.",
  },
  ERR_PLAN_BOM: {
    title: "The plan file starts with a byte order mark.",
    hint: "Save workflow.plan.json as UTF-8 without a BOM.",
  },
  ERR_PLAN_TOO_DEEP: {
    title: "The plan nests objects and arrays deeper than the evaluator accepts (32 levels).",
    hint: "A workflow plan is at most six levels deep; remove the nested values.",
  },
  ERR_PLAN_NOT_OBJECT: {
    title: "The plan is not a JSON object.",
    hint: "workflow.plan.json holds one object with schema_version, plan_id, phases, workers, ...",
  },
  ERR_PLAN_SCHEMA_VERSION: {
    title: "The plan's schema_version is missing or not supported.",
    hint: 'Set "schema_version": "0.6" (or "0.5" for a plan of the earlier version).',
  },
  ERR_PLAN_MISSING_KEY: {
    title: "A required key is missing.",
    hint: "Every object of the plan has an exact key set; add the key (skill/references/workflow-plan-schema.md).",
  },
  ERR_PLAN_UNEXPECTED_KEY: {
    title: "An object has a key the schema does not define.",
    hint: "Remove the key or fix its spelling; every object of the plan has an exact key set.",
  },
  ERR_PLAN_TYPE: {
    title: "A value has the wrong type.",
    hint: "Use the type the schema names (string, boolean, integer, list, object).",
  },
  ERR_PLAN_EMPTY_VALUE: {
    title: "A text value is empty or blank.",
    hint: "Write the value out; empty strings are never accepted.",
  },
  ERR_PLAN_EMPTY_LIST: {
    title: "A list that must not be empty is empty.",
    hint: "Add at least one item.",
  },
  ERR_PLAN_UNKNOWN_VALUE: {
    title: "A value is not one of the allowed values.",
    hint: "Use one of the values the message lists.",
  },
  ERR_PLAN_DUPLICATE_VALUE: {
    title: "A list that must hold unique items repeats an item.",
    hint: "Remove the repeated item.",
  },
  ERR_PLAN_OUT_OF_RANGE: {
    title: "A number is outside its allowed range.",
    hint: "Use a number within the range the message names.",
  },
  ERR_PLAN_CREATED_BY: {
    title: 'created_by is not "dynamic-workflow-designer".',
    hint: 'Plans are written with the dynamic-workflow-designer skill; set "created_by": "dynamic-workflow-designer".',
  },
  ERR_PLAN_ACTIVATION_TARGET: {
    title: "An activated plan names a downgrade target.",
    hint: 'Set activation.downgrade_target to null, or change activation.decision to "downgrade".',
  },
  ERR_PLAN_ACTIVATION_THRESHOLDS: {
    title: "An activated plan lacks an exclusive or a supporting threshold.",
    hint: "Activate only with at least one exclusive threshold (downstream-consumer, resumable-handoffs, multi-surface-fanout) and one supporting threshold (planned-fanout, adversarial-verification, human-gates); otherwise downgrade.",
  },
  ERR_PLAN_ACTIVATION_INCOMPLETE: {
    title: "An activated plan leaves a required part empty.",
    hint: "An activated plan needs assumptions, patterns, phases, workers, handoffs, verification, risk gates, cacheable outputs, invalidators and restart points.",
  },
  ERR_PLAN_DOWNGRADE_TARGET: {
    title: "A downgraded plan names no downgrade target.",
    hint: 'Set activation.downgrade_target to "direct-codex", "workflow-router" or "simple-plan".',
  },
  ERR_PLAN_DOWNGRADE_SHAPE: {
    title: "A downgraded plan still describes a workflow.",
    hint: "A downgrade has no thresholds, phases, workers, handoffs or restart points, parallelism none with cap 1, at most one agent, mode direct-codex and consumer human.",
  },
  ERR_PLAN_DOWNGRADE_INSTRUCTION: {
    title: "A downgraded plan's first slice does not route to its target.",
    hint: 'Set execution_path.first_slice.instruction to "Use <target> instead of dynamic-workflow-designer for this request."',
  },
  ERR_PLAN_DUPLICATE_ID: {
    title: "Two phases, workers or surfaces share an id.",
    hint: "Give each phase, worker and surface its own id.",
  },
  ERR_PLAN_UNKNOWN_WORKER: {
    title: "A phase names a worker that the plan does not declare.",
    hint: "Add the worker to workers[] or fix the id in worker_ids.",
  },
  ERR_PLAN_UNKNOWN_PHASE: {
    title: "A dependency or handoff names a phase that the plan does not declare.",
    hint: "Fix the phase id or add the phase.",
  },
  ERR_PLAN_CYCLE: {
    title: "The phases' depends_on form a cycle.",
    hint: "Remove one dependency of the cycle; phases must form a directed acyclic graph.",
  },
  ERR_PLAN_HANDOFF_NOT_PRODUCED: {
    title: "A handoff artifact is not an output of its source phase.",
    hint: "Add the artifact to the source phase's outputs, or hand off an artifact it produces.",
  },
  ERR_PLAN_HANDOFF_DEPENDENCY: {
    title: "A handoff's target phase does not depend on its source phase.",
    hint: "Add the source phase to the target phase's depends_on.",
  },
  ERR_PLAN_UNSAFE_PATH: {
    title: "A handoff artifact is not a safe relative path.",
    hint: "Name handoff artifacts with relative paths inside the run (no leading /, no .., no backslash).",
  },
  ERR_PLAN_CACHEABLE_NOT_PRODUCED: {
    title: "A cacheable output is not produced by any phase.",
    hint: "List only phase outputs in resume.cacheable_outputs.",
  },
  ERR_PLAN_RESTART_NOT_PHASE: {
    title: "A restart point is not a phase id.",
    hint: "List phase ids in resume.restart_points.",
  },
  ERR_PLAN_DISCONNECTED: {
    title: "An activated plan's phase graph is not connected.",
    hint: "Connect the phase to the rest with depends_on or a handoff, or move it to another plan.",
  },
  ERR_PLAN_GATE_APPROVAL: {
    title: "A risk gate does not require user approval.",
    hint: "Set requires_user_approval to true; a gate always waits for a human.",
  },
  ERR_PLAN_SAFE_DEFAULT: {
    title: "A risk gate's safe_default is not a blocking default.",
    hint: 'Write "stop before <action> and ask for approval", "do not <action> without approval", or "preserve <work> and ask before <action>"; no continue, proceed, then, or, otherwise, automatically.',
  },
  ERR_PLAN_MISSING_GATE: {
    title: "A risky capability the plan needs has no risk gate.",
    hint: "Add a risk gate whose trigger names the capability (write, shell, network, external message).",
  },
  ERR_PLAN_GATE_NOT_SEPARATE: {
    title: "A risky capability is covered only by gates that also cover other capabilities.",
    hint: "Give each capability (write, shell, network, external message) its own risk gate.",
  },
  ERR_PLAN_FIRST_SLICE_REPO: {
    title: "A repository-bound plan's first slice does not take the repository path.",
    hint: 'Add "repository path" to execution_path.first_slice.inputs.',
  },
  ERR_PLAN_FIRST_SLICE_REPO_ONLY: {
    title: "A plan without a repository surface gives its first slice a repository input.",
    hint: "Remove the repository input, or add a surface of kind repo.",
  },
});

/** Every code of the catalogue. */
export type PlanErrorCode = Exclude<keyof typeof planEvaluatorErrors, "create" | "list">;
