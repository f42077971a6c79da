import { getEventListeners } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hostProcessRunner } from "./host-process-runner.js";
import type { ProcessRunner } from "./ports.js";
import { execaProcessRunner, MAX_CAPTURED_OUTPUT, nodeProcessRunner } from "./process-runner.js";

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

it("execaProcessRunner is the same runner (deprecated name)", () => {
  expect(execaProcessRunner).toBe(nodeProcessRunner);
});

const host = hostProcessRunner();
afterAll(() => host.close());

// Both runners must behave the same: the host runs nodeProcessRunner in another process.
describe.each([
  ["nodeProcessRunner", nodeProcessRunner],
  ["hostProcessRunner", host],
] as [string, ProcessRunner][])("%s", (_, runner) => {
  it("runs an argv with exactly the given environment and stdin", async () => {
    const r = await runner.run({
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
    const fail = await runner.run({ argv: ["sh", "-c", "exit 3"], cwd: os.tmpdir(), env });
    expect(fail.exitCode).toBe(3);
    const sig = await runner.run({ argv: ["sh", "-c", "kill -9 $$"], cwd: os.tmpdir(), env });
    expect(sig.signal).toBe("SIGKILL");
    const missing = await runner.run({ argv: ["dwm-no-such-program"], cwd: os.tmpdir(), env });
    expect(missing.spawnError).toBe("ENOENT");
  });

  it("a signal that was aborted before the run kills the child at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await runner.run({
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
      await runner.run({ argv: ["true"], cwd: os.tmpdir(), env, signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort").length).toBe(before);
  });

  it("writes output to files when asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const r = await runner.run({
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

  it("maxOutputBytes: output under the cap is kept whole, and nothing is capped", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const r = await runner.run({
      argv: ["sh", "-c", "echo out; echo err >&2"],
      cwd: dir,
      env,
      stdoutFile: path.join(dir, "o"),
      stderrFile: path.join(dir, "e"),
      maxOutputBytes: 4,
    });
    expect([r.exitCode, r.outputCapped]).toEqual([0, null]);
    expect(fs.readFileSync(path.join(dir, "o"), "utf8")).toBe("out\n");
    expect(fs.readFileSync(path.join(dir, "e"), "utf8")).toBe("err\n");
  });

  it.each([
    ["stdout", "yes 0123456789abcdef"],
    ["stderr", "yes 0123456789abcdef >&2"],
  ])(
    "maxOutputBytes: a process printing to %s without end is killed at the cap while it runs; the file holds the cap",
    async (stream, command) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
      const cap = 100_000;
      const r = await runner.run({
        argv: ["sh", "-c", `${command}; echo never`],
        cwd: dir,
        env,
        stdoutFile: path.join(dir, "stdout"),
        stderrFile: path.join(dir, "stderr"),
        maxOutputBytes: cap,
        timeoutMs: 60_000,
      });
      expect([r.outputCapped, r.signal, r.timedOut]).toEqual([stream, "SIGKILL", false]);
      const kept = fs.readFileSync(path.join(dir, stream), "utf8");
      expect(kept.length).toBe(cap);
      expect(kept.startsWith("0123456789abcdef\n0123456789abcdef\n")).toBe(true);
      expect(kept).not.toContain("never");
    },
  );

  it("a timeout kills the whole process tree, grandchildren included", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const pidFile = path.join(dir, "gc.pid");
    // The child starts a grandchild that ignores SIGTERM, records its pid, and both hang.
    const r = await runner.run({
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

  it("a background process left holding stdout does not hold the result up; it is killed at the child's exit", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-pr-"));
    const pidFile = path.join(dir, "bg.pid");
    const t0 = performance.now();
    const r = await runner.run({
      argv: ["sh", "-c", `sleep 30 & echo $! > ${pidFile}; echo done`],
      cwd: dir,
      env,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("done\n");
    expect(performance.now() - t0).toBeLessThan(20_000);
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(Number(fs.readFileSync(pidFile, "utf8")))).toBe(false);
  });

  it("a child that never reads its stdin is no error", async () => {
    const r = await runner.run({
      argv: ["true"],
      cwd: os.tmpdir(),
      env,
      stdin: "x".repeat(1024 * 1024),
    });
    expect(r.exitCode).toBe(0);
    expect(r.spawnError).toBeNull();
  });

  it("an output file that cannot be opened is a spawn error, and nothing ran", async () => {
    const r = await runner.run({
      argv: ["true"],
      cwd: os.tmpdir(),
      env,
      stdoutFile: path.join(os.tmpdir(), "dwm-no-such-dir", "out"),
    });
    expect(r.spawnError).toBe("ENOENT");
    expect(r.pid).toBeNull();
  });

  it("output past MAX_CAPTURED_OUTPUT kills the group and says so; what was kept is the start", async () => {
    const r = await runner.run({
      argv: ["sh", "-c", "yes 0123456789abcdef; echo never"],
      cwd: os.tmpdir(),
      env,
    });
    expect(r.signal).toBe("SIGKILL");
    expect(r.stdout.length).toBe(MAX_CAPTURED_OUTPUT);
    expect(r.stdout.startsWith("0123456789abcdef\n0123456789abcdef\n")).toBe(true);
    expect(r.stderr).toContain(`output over ${MAX_CAPTURED_OUTPUT} bytes`);
  });
});
