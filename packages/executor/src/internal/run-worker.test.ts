import fs from "node:fs";
import path from "node:path";
import { noSandbox, type ProcessRequest, type SandboxView } from "@dwm/core";
import { FakeProcessRunner, FakeSandbox, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planInvocation } from "./backends.js";
import { Redactor } from "./env.js";
import type { JobInvocation } from "./invocation.js";
import type { Job } from "./jobs.js";
import { launchWorker, type RunSettings, runInvocation } from "./run-worker.js";

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir("dwm-run-worker-");
});
afterEach(() => dir.cleanup());

function invocation(binding: Job["binding"]): JobInvocation {
  const job: Job = {
    index: 1,
    workerId: "w",
    role: "w",
    binding,
    permissions: { write: true, shell: false, network: false },
    ownership: [],
    dir: "workers/1-w",
  };
  // Without a sandbox that isolates, the worker is handed the host hand-over folder's paths.
  const io = path.join(dir.path, "io");
  const paths = {
    worktree: "/wt",
    promptFile: path.join(io, "prompt.md"),
    outputDir: path.join(io, "out"),
    lastMessageFile: path.join(io, "last-message.md"),
    ioDir: io,
  };
  // The attempt writes the job's prompt into its folder before it runs the job.
  fs.mkdirSync(path.join(dir.path, job.dir), { recursive: true });
  const plan = planInvocation(
    binding,
    job.permissions ?? { write: false, shell: false, network: false },
    paths,
  );
  return { job, paths, plan, env: { PATH: "/bin", API_KEY: "sk-secret-1" }, envNames: ["API_KEY", "PATH"] };
}

const EMPTY_VIEW: SandboxView = { binds: [], hidden: [], network: "none" };

function settings(runner: FakeProcessRunner, redactor = new Redactor()): RunSettings {
  return {
    runner,
    sandbox: noSandbox,
    view: EMPTY_VIEW,
    hostIoDir: path.join(dir.path, "io"),
    attemptDir: dir.path,
    worktree: "/wt",
    prompt: "do it\n",
    limits: { kill_grace_ms: 300 },
    redactor,
  };
}

/** A runner that writes `stdout` where the request asks, and answers `result`. */
function answering(stdout: string, result: Partial<Awaited<ReturnType<FakeProcessRunner["run"]>>> = {}) {
  return new FakeProcessRunner((req: ProcessRequest) => {
    if (req.stdoutFile) fs.writeFileSync(req.stdoutFile, stdout);
    return result;
  });
}

describe("launchWorker", () => {
  it("starts exactly the worker's process request, as the sandbox prepared it in the worker's view, and disposes of it", async () => {
    const runner = new FakeProcessRunner();
    const request = {
      argv: ["make", "all"],
      cwd: "/wt",
      env: { PATH: "/bin" },
      stdin: "prompt",
      stdoutFile: "/a/out",
      stderrFile: "/a/err",
      timeoutMs: 1000,
      killGraceMs: 50,
    };
    const sandbox = new FakeSandbox({ prefix: ["jail", "--"] });
    const view: SandboxView = {
      binds: [{ source: "/wt", writable: true }],
      hidden: ["/secret"],
      network: "none",
    };
    await launchWorker(runner, sandbox, { request, view });
    expect(sandbox.calls).toEqual([{ request, view, disposed: true }]);
    expect(runner.calls).toEqual([{ ...request, argv: ["jail", "--", "make", "all"] }]);
  });
});

describe("runInvocation", () => {
  it("feeds the prompt on stdin to an agent CLI, keeps its transcript and reads its rate limit and retry delay", async () => {
    const retry = '{"type":"system","subtype":"api_retry","retry_delay_ms":1500,"error_status":429}';
    const result =
      '{"type":"result","is_error":true,"api_error_status":429,"result":"API Error: Request rejected (429)"}';
    const runner = answering(`${retry}\nnot json\n${result}\n`, { exitCode: 1, durationMs: 12.6 });
    const ran = await runInvocation(invocation({ backend: "claude", timeout_ms: 4000 }), settings(runner));
    expect(runner.calls[0]).toMatchObject({
      cwd: "/wt",
      stdin: "do it\n",
      timeoutMs: 4000,
      killGraceMs: 300,
    });
    expect([ran.outcome, ran.retryAfterMs, ran.notes]).toEqual([
      "rate-limited",
      1500,
      ["w: 1 line(s) of stdout are not JSON events"],
    ]);
    expect(ran.invocation).toMatchObject({
      outcome: "rate-limited",
      exit_code: 1,
      duration_ms: 13,
      env_names: ["API_KEY", "PATH"],
      stdout: "workers/1-w/stdout",
      stderr: "workers/1-w/stderr",
      transcript: "workers/1-w/transcript.jsonl",
      output_dir: null,
      detail: "API Error: Request rejected (429)",
    });
    expect(fs.readFileSync(path.join(dir.path, "workers/1-w/transcript.jsonl"), "utf8")).toBe(
      `${retry}\n${result}\n`,
    );
    expect(fs.readFileSync(path.join(dir.path, "workers/1-w/stderr"), "utf8")).toBe("");
  });

  it("a shell command gets no stdin and no transcript; the default timeout; a spawn error is backend-missing", async () => {
    const runner = answering("", { exitCode: null, spawnError: "ENOENT" });
    const ran = await runInvocation(invocation({ backend: "shell", argv: ["nope"] }), settings(runner));
    expect(runner.calls[0]).toMatchObject({ stdin: undefined, timeoutMs: 30 * 60_000 });
    expect([ran.outcome, ran.retryAfterMs, ran.invocation.transcript, ran.invocation.detail]).toEqual([
      "backend-missing",
      null,
      null,
      "nope: ENOENT",
    ]);
  });

  it("the command backend gets its output folder, recorded with placeholders; its exit code decides", async () => {
    const runner = answering('{"type":"result","is_error":true,"result":"ignored"}\n', { exitCode: 3 });
    const ji = invocation({ backend: "command", argv: ["tool", "{output_dir}"], transcript: "stdout" });
    const ran = await runInvocation(ji, settings(runner));
    expect(runner.calls[0]?.argv).toEqual(["tool", ji.paths.outputDir]);
    expect(fs.statSync(ji.paths.outputDir).isDirectory()).toBe(true);
    expect(ran.invocation.output_dir).toBe("workers/1-w/out");
    expect(ran.invocation.argv).toEqual(["tool", "{output_dir}"]);
    // The generic reader reads no failure from a transcript.
    expect([ran.outcome, ran.invocation.detail, ran.invocation.transcript]).toEqual([
      "task-failed",
      null,
      "workers/1-w/transcript.jsonl",
    ]);
  });

  it("the detail is redacted and bounded to 2000 characters", async () => {
    const text = `sk-secret-1 ${"x".repeat(3000)}`;
    const runner = answering(`{"type":"result","is_error":true,"result":"${text}"}\n`, { exitCode: 1 });
    const redactor = new Redactor();
    redactor.add({ API_KEY: "sk-secret-1" });
    const ran = await runInvocation(invocation({ backend: "claude" }), settings(runner, redactor));
    expect(ran.outcome).toBe("task-failed");
    expect(ran.invocation.detail).toBe(`[REDACTED:API_KEY] ${"x".repeat(2000 - 19)}`);
  });
});
