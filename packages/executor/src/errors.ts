import { defineErrors, EXIT } from "@dwm/core";

/** Errors of @dwm/executor. Outcomes of the work (a failed task, a timeout) are data in the attempt, not errors. */
export const executorErrors = defineErrors({
  ERR_EXEC_REQUEST_INVALID: {
    title: "The attempt request does not match the attempt-request schema.",
    hint: "Build the request with the fields in docs/internals.md (run_id, packet, prompt, attempt, base_commit, binding, inputs, repair_context, repo, limits).",
  },
  ERR_EXEC_BINDINGS_INVALID: {
    title: "The worker-bindings file is missing, not JSON, or does not match its schema.",
    hint: "Fix dwm.workers.json (kind worker-bindings, schema_version 1, bindings: {worker id or *: {backend, ...}}); docs/backends.md lists each backend's options.",
  },
  ERR_EXEC_NO_BINDING: {
    title: "A worker of the packet has no backend binding.",
    hint: 'Bind the worker id (or "*") in dwm.workers.json beside the plan or at the repository root (docs/backends.md), or run again with --backend dry-run, --backend codex or --backend claude.',
  },
  ERR_EXEC_BACKEND_UNAVAILABLE: {
    title:
      "A binding cannot be used as written (a shell or command backend without argv, a shell command without shell: true).",
    hint: "Give the binding the options its backend needs; see docs/backends.md.",
  },
  ERR_EXEC_ATTEMPT_EXISTS: {
    title: "The attempt directory already holds a finished attempt.",
    hint: "Attempts are append-only: use the next attempt number.",
  },
  ERR_EXEC_INPUT_DIGEST: {
    title: "A handoff input's content does not match its digest.",
    hint: "The handoff was changed after it was registered; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
  ERR_EXEC_BASE_COMMIT: {
    title: "The base commit is not in the repository.",
    hint: "Pass a commit that exists in the repository (the run's base commit or the integration branch).",
  },
  ERR_EXEC_NOT_A_REPO: {
    title: "The repository path is not a git repository.",
    hint: "Run DWM inside the repository the workflow works on.",
  },
  ERR_EXEC_WORKTREE_ROOT: {
    title: "Worktrees would be created inside the repository.",
    hint: "Choose a worktree root outside the repository (the default is the system temp directory).",
  },
  ERR_EXEC_GIT_FAILED: {
    title:
      "A git command of the executor failed (checkout, staging, commit, fetch of the attempt's ref, diff).",
    hint: "Read the git message in the details (a refused fetch names the object git's fsck rejected); the attempt's folder is removed and a retry starts afresh.",
  },
  ERR_EXEC_RUN_NOT_FOUND: {
    title: "No run with that id or path.",
    hint: "Compile the plan first (`dwm compile`), or pass the run directory.",
  },
  ERR_EXEC_PACKET_NOT_FOUND: {
    title: "The run has no packet with that id.",
    hint: "Run `dwm status` to list the packets of the run.",
  },
});
