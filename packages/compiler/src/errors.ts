import { defineErrors, EXIT } from "@dwm/core";

/** Errors raised by @dwm/compiler (compilePlan, checkRun, loadRun). */
export const compilerErrors = defineErrors({
  ERR_PLAN_INVALID: {
    title: "The plan is not a valid workflow plan.",
    hint: "Run `dwm evaluate <plan>` for the full list of problems, fix them, and compile again.",
  },
  ERR_PLAN_DOWNGRADE: {
    title: "The plan asks to be downgraded instead of run as a workflow.",
    hint: "Follow the plan's downgrade target (e.g. work directly with one agent), or change activation.decision to activate.",
  },
  ERR_OUT_PATH_NOT_OWNED: {
    title:
      "The run directory exists but is not a DWM run of this id (ownership marker missing or different).",
    hint: "Choose another --store, or move the directory away; DWM never overwrites a directory it does not own.",
  },
  ERR_COMPILE_AMBIGUOUS_RUN: {
    title: "More than one run in the store was compiled from this plan id.",
    hint: "Name the run to recompile into with --run <run_id>, or make a new one with --new.",
  },
  ERR_COMPILE_PLAN_MISMATCH: {
    title: "The run named for a recompile was compiled from another plan (plan_id or run id differ).",
    hint: "Compile into a new run with --new, or name the run of this plan with --run.",
  },
  ERR_COMPILE_UNSAFE_ID: {
    title: "A phase id cannot be used as a packet id (a file name in the run store).",
    hint: "Use phase ids made of letters, digits, `.`, `_` and `-`, starting with a letter or digit.",
  },
  ERR_PROMPT_PACKET_DRIFT: {
    title: "A prompt does not match the packet it was rendered from.",
    hint: "The prompt file was edited; recompile the plan (`dwm compile`) to render it again.",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_STALE_PLAN: {
    title:
      "The plan (or its snapshot or scorecard in the run store) differs from what the run was compiled from.",
    hint: "Run `dwm compile <plan>` to recompile the run; unchanged packets keep their results.",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_STALE_PACKET: {
    title: "A packet differs from the digest recorded in run.json.",
    hint: "Recompile the run (`dwm compile <plan>`); do not edit packets by hand.",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_STALE_PROMPT: {
    title: "A prompt differs from the digest recorded in run.json or from its packet.",
    hint: "Recompile the run (`dwm compile <plan>`); do not edit prompts by hand.",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_STALE_GATE: {
    title: "A gate differs from the digest recorded in run.json.",
    hint: "Recompile the run (`dwm compile <plan>`); gates are approved with `dwm approve`, never by editing them.",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_STALE_COMPILER: {
    title: "The run was compiled by another compiler version.",
    hint: "Recompile the run with this version (`dwm compile <plan>`).",
    exitCode: EXIT.integrity,
  },
  ERR_RESUME_MISSING_ARTIFACT: {
    title: "An artifact of the run is missing, unreadable, or not a regular file.",
    hint: "Recompile the run (`dwm compile <plan>`), or restore the run directory from a copy.",
    exitCode: EXIT.integrity,
  },
});
