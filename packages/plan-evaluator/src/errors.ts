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
    hint: "An activated plan needs assumptions, patterns, phases, workers (unless every phase is a command or a gate), handoffs, verification, risk gates, cacheable outputs, invalidators and restart points.",
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
    title: "A dependency, handoff, fan-out pipeline or reduce names a phase that the plan does not declare.",
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
  ERR_PLAN_PHASE_NO_WORKERS: {
    title: "A 0.6 work phase has neither workers nor a command.",
    hint: "Name the workers that do the phase in worker_ids, or give it a command for a deterministic step.",
  },
  ERR_PLAN_COMMAND_WORKERS: {
    title: "A command phase also names workers.",
    hint: "A command phase is run by the shell backend; set worker_ids to [] (or remove the command and let the workers do the phase).",
  },
  ERR_PLAN_COMMAND_SHELL: {
    title: "A command's run and shell do not agree.",
    hint: 'Write an argv list without shell ({"run": ["node", "x.mjs"]}), or a shell string with "shell": true ({"run": "ls | sort", "shell": true}).',
  },
  ERR_PLAN_GATE_REVIEW: {
    title: "A gate phase lists nothing to review, or a work phase has a review list.",
    hint: 'Give a phase with "kind": "gate" a review list (what the approver must look at); review is only for gate phases.',
  },
  ERR_PLAN_GATE_WORKERS: {
    title: "A gate phase names workers.",
    hint: "A gate phase waits for a human; set worker_ids to [] and put the work in an upstream phase.",
  },
  ERR_PLAN_GATE_COMMAND: {
    title: "A gate phase has a command.",
    hint: "A gate phase runs nothing; move the command to an upstream phase.",
  },
  ERR_PLAN_SAFE_DEFAULT_BEFORE: {
    title: "A structured safe_default stops before something that is neither a gate category nor a phase.",
    hint: "Set before to a gate category (write, shell, network, external-message, ...) or to the id of a phase.",
  },
  ERR_PLAN_FANOUT_OVER_UNKNOWN: {
    title: "A fan-out iterates over an artifact that no handoff carries.",
    hint: "Set fan_out.over to the artifact of a handoff into this phase (format json-list or jsonl).",
  },
  ERR_PLAN_FANOUT_OVER_TARGET: {
    title: "A fan-out iterates over a handoff that does not go into the fan-out phase.",
    hint: "Add a handoff of the artifact whose to_phase is the phase that carries fan_out.",
  },
  ERR_PLAN_FANOUT_OVER_FORMAT: {
    title: "A fan-out iterates over a handoff whose format is not a list.",
    hint: 'Set the handoff\'s artifact_schema.format to "json-list" (one JSON array of objects) or "jsonl" (one JSON object a line).',
  },
  ERR_PLAN_FANOUT_OVER_SOURCE: {
    title: "A fan-out iterates over an artifact that is not produced upstream of it.",
    hint: "The handoff's from_phase must be a phase the fan-out phase depends on, outside the fan-out.",
  },
  ERR_PLAN_FANOUT_KEY: {
    title: "A fan-out's key is not a required field of the items.",
    hint: "Set fan_out.key to one of the handoff's artifact_schema.required_fields, or add the field there.",
  },
  ERR_PLAN_FANOUT_MAX_ITEMS: {
    title: "A fan-out's max_items is larger than the evaluator accepts (10000).",
    hint: "Split the items across several plans or batch them into fewer items.",
  },
  ERR_PLAN_FANOUT_PIPELINE: {
    title: "A fan-out pipeline phase does not depend on the per-item phase before it.",
    hint: "Each pipeline phase depends on the previous per-item phase (the fan-out phase for the first one); list them in that order.",
  },
  ERR_PLAN_FANOUT_OVERLAP: {
    title:
      "A phase is a per-item phase twice (repeated in a pipeline, the fan-out phase itself, or in two fan-outs).",
    hint: "List each per-item phase once, in one fan-out.",
  },
  ERR_PLAN_FANOUT_NESTED: {
    title: "A pipeline or reduce phase carries its own fan_out.",
    hint: "Fan-outs do not nest in schema 0.6; reduce the first fan-out, then start the next one downstream of its reduce phase.",
  },
  ERR_PLAN_FANOUT_GATE: {
    title: "A gate phase is a per-item phase.",
    hint: "Put the gate after the reduce phase, where the approver sees all items at once.",
  },
  ERR_PLAN_FANOUT_ESCAPE: {
    title: "A phase outside a fan-out depends on one of its per-item phases.",
    hint: "Only the reduce phase reads per-item results, through the last per-item phase; depend on the reduce phase instead.",
  },
  ERR_PLAN_FANOUT_REDUCE: {
    title: "A fan-out's reduce phase is a per-item phase or does not depend on the last per-item phase.",
    hint: "Make reduce a phase outside the fan-out whose depends_on names the last pipeline phase (or the fan-out phase when the pipeline is empty).",
  },
  ERR_PLAN_FANOUT_CYCLE: {
    title:
      "The order a fan-out implies (source, per-item phases, reduce) forms a cycle with the phases' dependencies.",
    hint: "The items' source must run before the fan-out and reduce after it; remove the dependency that leads back.",
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
