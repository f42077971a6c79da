import type { ReviewFinding } from "@dwm/schemas";

/** One kind of finding a review can record: what it means and what the producer (or operator) can do. */
export interface FindingDescriptor {
  code: string;
  /** One line: what the review found. */
  title: string;
  /** What to do about it. */
  hint: string;
  /** What the finding leads to (a few can lead to either of two, e.g. repair or a human's decision). */
  effects: readonly ReviewFinding["effect"][];
}

type Entry = Omit<FindingDescriptor, "code">;

const entries = {
  REVIEW_INFRA_FAILURE: {
    title:
      "The attempt ended in an infrastructure failure (timeout, crash, auth, rate limit, backend missing).",
    hint: "Nothing is judged; the run retries with backoff (--infra-retries, --infra-backoff). For auth-failed, check the backend's credentials.",
    effects: ["infra"],
  },
  REVIEW_DRY_RUN: {
    title: "No worker ran (dry run); there is no work to approve.",
    hint: "Run without --dry-run to do the work.",
    effects: ["human"],
  },
  REVIEW_TASK_FAILED: {
    title: "The worker exited with a failure status.",
    hint: "Read the quoted stderr/stdout tail; the repair attempt gets it in its prompt.",
    effects: ["repair"],
  },
  REVIEW_MISSING_OUTPUT: {
    title: "A declared output was not produced.",
    hint: "The worker must write every output its phase declares, at the declared path.",
    effects: ["repair"],
  },
  REVIEW_EMPTY_OUTPUT: {
    title: "A declared output is empty.",
    hint: "Write the output's content; an empty file is not an output.",
    effects: ["repair"],
  },
  REVIEW_HANDOFF_FORMAT: {
    title:
      "A handoff artifact is not in its declared format (not valid JSON, not a list, an item that is not an object, a directory).",
    hint: "Write the handoff in the plan's artifact_schema.format; the finding quotes what does not parse.",
    effects: ["repair"],
  },
  REVIEW_HANDOFF_FIELDS_MISSING: {
    title: "A handoff artifact (or an item of a list handoff) lacks a required field.",
    hint: "Add each field the plan's required_fields names (json: a key; json-list/jsonl: a non-null key of every item; markdown: a heading, `field:` label or **field**; other text: the field literally).",
    effects: ["repair"],
  },
  REVIEW_CHECK_NOT_RUN: {
    title: "A validation command the packet declares has no recorded result.",
    hint: "DWM runs validation commands itself; re-run the packet, or decide by hand.",
    effects: ["human"],
  },
  REVIEW_VALIDATION_FAILED: {
    title: "A handoff's validation command failed when DWM ran it on the attempt's work.",
    hint: "Read the quoted output; the repair attempt gets it in its prompt.",
    effects: ["repair"],
  },
  REVIEW_VERIFICATION_FAILED: {
    title: "A verification command failed when DWM ran it on the attempt's work.",
    hint: "Read the quoted output; the repair attempt gets it in its prompt.",
    effects: ["repair"],
  },
  REVIEW_READ_ONLY_VIOLATION: {
    title: "A read-only packet changed files other than its declared outputs.",
    hint: "A read-only worker may write only the packet's outputs; revert the other changes.",
    effects: ["repair"],
  },
  REVIEW_OWNERSHIP_VIOLATION: {
    title: "A writing worker changed files outside its ownership.",
    hint: "Keep changes within the worker's ownership, or widen ownership in the plan.",
    effects: ["repair"],
  },
  REVIEW_SECRET_IN_WORK: {
    title: "The attempt's work contains what looks like a secret.",
    hint: "A human decides: remove the secret and rotate it if it was real.",
    effects: ["human"],
  },
  REVIEW_REPOSITORY_CHANGED: {
    title:
      "The repository's refs, config or hooks changed while the attempt ran (the sandbox should have made that impossible).",
    hint: "The work cannot be trusted: look at what changed (the finding names it) and decide by hand; it is never approved.",
    effects: ["human"],
  },
  REVIEW_CONTROL_FILE_CHANGED: {
    title:
      "The attempt changed DWM's own control files (dwm.operators.json, dwm.policy.json, dwm.workers.json, .dwm/, the run's plan file).",
    hint: "Whatever the packet's ownership says, only a human passes this: read the change (a trusted key, a policy, a binding) and decide with `dwm approve` or `dwm reject`; `dwm land` refuses it without --allow-control-files.",
    effects: ["human"],
  },
  REVIEW_OUTPUT_TRUNCATED: {
    title:
      "A stream or a handed-back file of the attempt was cut at the output cap, so the evidence is incomplete.",
    hint: "Have the worker say less (or raise max_output_bytes in its binding); the repair attempt is told.",
    effects: ["repair"],
  },
  REVIEW_EXECUTOR_FINDING: {
    title: "The executor recorded a finding this reviewer does not know.",
    hint: "A human decides; update the reviewer with the executor.",
    effects: ["human"],
  },
  REVIEW_TEST_DELETED: {
    title: "The attempt deleted a test file.",
    hint: "Do not delete tests to pass; a writing worker whose ownership names exactly that path may.",
    effects: ["repair", "human"],
  },
  REVIEW_ASSERTIONS_REMOVED: {
    title: "The attempt removed more assertions than it added.",
    hint: "Keep the assertions; fix the code they check.",
    effects: ["repair", "human"],
  },
  REVIEW_TEST_SKIP_ADDED: {
    title: "The attempt added skip/only markers to tests.",
    hint: "Remove the markers; every test must run.",
    effects: ["repair", "human"],
  },
  REVIEW_ASSERTION_LOOSENED: {
    title: "The attempt replaced exact expectations with loose ones.",
    hint: "Keep the exact expectation; fix the code it checks.",
    effects: ["repair", "human"],
  },
  REVIEW_TEST_CONFIG_EDITED: {
    title: "The attempt edited the test runner's configuration.",
    hint: "Leave the test configuration as it is, unless the packet's ownership names exactly that file.",
    effects: ["repair", "human"],
  },
  REVIEW_CHECK_EDITED: {
    title: "The attempt edited a script of the packet's own validation or verification commands.",
    hint: "The checks that judge a packet are not the packet's to change.",
    effects: ["repair", "human"],
  },
  REVIEW_WORKER_REFUTED: {
    title: "The reviewer worker refuted the result.",
    hint: "The repair attempt gets the reviewer's reasons in its prompt.",
    effects: ["repair"],
  },
  REVIEW_WORKER_NEEDS_HUMAN: {
    title: "The reviewer worker asks for a human's decision.",
    hint: "Read the reviewer's transcript and decide with `dwm approve` or `dwm reject`.",
    effects: ["human"],
  },
  REVIEW_WORKER_UNAVAILABLE: {
    title: "The reviewer worker gave no verdict (it failed or answered something else).",
    hint: "Read its transcript; fix its binding, or decide by hand.",
    effects: ["human"],
  },
  REVIEW_UNVERIFIABLE: {
    title:
      "Nothing could have falsified the result (no checkable output, no check, no command, no reviewer worker).",
    hint: "Give the phase an output with a validation_command, a verification item or a reviewer worker; or decide by hand.",
    effects: ["human"],
  },
} as const satisfies Record<string, Entry>;

/** A finding code the review can record. */
export type ReviewFindingCode = keyof typeof entries;

function withCodes<K extends string>(
  e: Readonly<Record<K, Entry>>,
): { readonly [C in K]: FindingDescriptor } {
  const out = {} as Record<K, FindingDescriptor>;
  for (const code of Object.keys(e) as K[]) out[code] = { code, ...e[code] };
  return out;
}

const table = withCodes<ReviewFindingCode>(entries);

/** Every finding code a review can record (`docs/errors.md` lists them). */
export const reviewFindings = Object.freeze({
  ...table,
  list: (): FindingDescriptor[] => Object.values(table),
});
