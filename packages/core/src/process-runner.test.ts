import { getEventListeners } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { execaProcessRunner } from "./process-runner.js";

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

function alive(pid: number): boolean {
  // A zombie (exited, not yet reaped by a container init that never reaps) is not running.
  try {
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return false;
  } catch {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("execaProcessRunner", () => {
  it("runs an argv with exactly the given environment and stdin", async () => {
    const r = await execaProcessRunner.run({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, not a template
      argv: ["sh", "-c", 'read x; echo "$x:${HOME:-nohome}:$FOO"'],
      cwd: os.tmpdir(),
      env: { ...env, FOO: "bar" },
      stdin: "hello\n",
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("hello:nohome:bar\n");
  });

  it("reports exit codes, signals and missing programs", async () => {
    const fail = await execaProcessRunner.run({ argv: ["sh", "-c", "exit 3"], cwd: os.tmpdir(), env });
    expect(fail.exitCode).toBe(3);
    const sig = await execaProcessRunner.run({ argv: ["sh", "-c", "kill -9 $$"], cwd: os.tmpdir(), env });
    expect(sig.signal).toBe("SIGKILL");
    const missing = await execaProcessRunner.run({ argv: ["dwm-no-such-program"], cwd: os.tmpdir(), env });
    expect(missing.spawnError).toBe("ENOENT");
  });

  it("a signal that was aborted before the run kills the child at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await execaProcessRunner.run({
      argv: ["sleep", "30"],
      cwd: os.tmpdir(),
      env,
      signal: controller.signal,
      killGraceMs: 100,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
  });

  it("a child that ended leaves no listener on the run's stop signal", async () => {
    const controller = new AbortController();
    const before = getEventListeners(controller.signal, "abort").length;
    for (let i = 0; i < 12; i++)
      await execaProcessRunner.run({ argv: ["true"], cwd: os.tmpdir(), env, signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort").length).toBe(before);
  });

  it("writes output to files when asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const r = await execaProcessRunner.run({
      argv: ["sh", "-c", "echo out; echo err >&2"],
      cwd: dir,
      env,
      stdoutFile: path.join(dir, "o"),
      stderrFile: path.join(dir, "e"),
    });
    expect(r.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(dir, "o"), "utf8")).toBe("out\n");
    expect(fs.readFileSync(path.join(dir, "e"), "utf8")).toBe("err\n");
  });

  it("a timeout kills the whole process tree, grandchildren included", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const pidFile = path.join(dir, "gc.pid");
    // The child starts a grandchild that ignores SIGTERM, records its pid, and both hang.
    const r = await execaProcessRunner.run({
      argv: ["sh", "-c", `sh -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 1; done' & wait`],
      cwd: dir,
      env,
      timeoutMs: 300,
      killGraceMs: 200,
    });
    expect(r.timedOut).toBe(true);
    const gc = Number(fs.readFileSync(pidFile, "utf8"));
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(gc)).toBe(false);
  });
});
