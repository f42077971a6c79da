import fs from "node:fs";
import path from "node:path";
import { digest } from "@dwm/core";
import type { AttemptRequest, WorkerBinding } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bindingsOf, packet } from "../test-support/builders.js";
import { Redactor } from "./env.js";
import { missingProgram, NO_WORKTREE, notRun, planJobInvocation, redactorFor } from "./invocation.js";
import type { Job } from "./jobs.js";

let bin: TempDir;
beforeEach(() => {
  bin = makeTempDir("dwm-bin-");
  fs.writeFileSync(path.join(bin.path, "tool"), "#!/bin/sh\n", { mode: 0o755 });
  fs.writeFileSync(path.join(bin.path, "not-executable"), "", { mode: 0o644 });
});
afterEach(() => bin.cleanup());

function job(workerId: string, binding: WorkerBinding, index = 1): Job {
  return {
    index,
    workerId,
    role: workerId,
    binding,
    permissions: { write: true, shell: true, network: false },
    ownership: [],
    dir: `workers/${index}-${workerId}`,
  };
}
const req: AttemptRequest = {
  kind: "attempt-request",
  schema_version: "1",
  run_id: "demo-0123456789ab",
  packet: packet(),
  prompt: "# build\n",
  attempt: 1,
  base_commit: "0".repeat(40),
  binding: { bindings_digest: digest(bindingsOf({})), workers: {} },
  inputs: [],
  repair_context: null,
  repo: "/repo",
  limits: {},
};
// Inside the sandbox the worker's hand-over folder is /tmp/dwm: no run-store path reaches it.
const PLACE = { worktree: NO_WORKTREE, ioDir: "/tmp/dwm", sandboxed: true };
const plan = (j: Job, env: Record<string, string> = {}) =>
  planJobInvocation(req, j, PLACE, { PATH: bin.path, ...env });

describe("planJobInvocation", () => {
  it("gives a worker the allow-listed environment and DWM's variables; an output folder only to the command backend", () => {
    const shell = plan(job("w", { backend: "shell", argv: ["tool"], env: { EXTRA: "1" } }), {
      SECRET_X: "nope",
    });
    expect(shell.env).toEqual({
      PATH: bin.path,
      EXTRA: "1",
      DWM_RUN_ID: "demo-0123456789ab",
      DWM_PACKET_ID: "build",
      DWM_ATTEMPT: "1",
      DWM_WORKER_ID: "w",
      DWM_PROMPT_FILE: "/tmp/dwm/prompt.md",
      DWM_WORKTREE: NO_WORKTREE,
      DWM_INPUTS_DIR: `${NO_WORKTREE}/.dwm-inputs`,
    });
    expect(shell.envNames).toEqual(Object.keys(shell.env).sort());
    const command = plan(job("c", { backend: "command", argv: ["tool", "{output_dir}"] }));
    expect(command.env.DWM_OUTPUT_DIR).toBe("/tmp/dwm/out");
    expect(command.plan.argv).toEqual(["tool", "/tmp/dwm/out"]);
  });
});

describe("missingProgram", () => {
  it("is the first job whose program is not an executable on its PATH; dry runs and paths are not looked up", () => {
    const jobs = [
      job("dry", { backend: "dry-run" }, 1),
      job("found", { backend: "shell", argv: ["tool"] }, 2),
      job("by-path", { backend: "shell", argv: ["./scripts/run.sh"] }, 3),
      job("gone", { backend: "shell", argv: ["no-such-tool"] }, 4),
      job("also-gone", { backend: "codex" }, 5),
    ];
    expect(missingProgram(jobs.map((j) => plan(j)))?.job.workerId).toBe("gone");
    expect(missingProgram(jobs.slice(0, 3).map((j) => plan(j)))).toBeUndefined();
    expect(
      missingProgram([plan(job("x", { backend: "shell", argv: ["not-executable"] }))])?.job.workerId,
    ).toBe("x");
  });
});

describe("redactorFor", () => {
  it("knows the secrets of every worker's environment, a key variable with any name, and DWM's own secrets", () => {
    const jobs = [
      job("a", { backend: "shell", argv: ["tool"], env: { GW_PASSWORD: "literal-pass" } }),
      job("b", { backend: "claude", api_key_env: "PLAIN_NAME" }, 2),
    ];
    const source = {
      PATH: bin.path,
      PLAIN_NAME: "gateway-key-1",
      OWN_TOKEN: "dwm-token-1",
      OTHER: "visible",
    };
    const r = redactorFor(
      jobs.map((j) => planJobInvocation(req, j, PLACE, source)),
      source,
    );
    expect(r.redactText("literal-pass gateway-key-1 dwm-token-1 visible")).toBe(
      "[REDACTED:GW_PASSWORD] [REDACTED:ANTHROPIC_API_KEY] [REDACTED:OWN_TOKEN] visible",
    );
  });
});

describe("notRun", () => {
  it("records the argv with placeholders, no environment, no output, and why", () => {
    const ji = plan(job("w", { backend: "command", argv: ["tool", "{prompt_file}", "{worktree}"] }));
    expect(notRun(ji, "dry run: nothing was started", new Redactor())).toEqual({
      worker_id: "w",
      backend: "command",
      argv: ["tool", "{prompt_file}", "{worktree}"],
      stdin: "none",
      env_names: [],
      outcome: "not-run",
      exit_code: null,
      signal: null,
      timed_out: false,
      duration_ms: 0,
      prompt: "workers/1-w/prompt.md",
      stdout: null,
      stderr: null,
      transcript: null,
      output_dir: null,
      tokens: null,
      detail: "dry run: nothing was started",
    });
  });
});
