import { describe, expect, it } from "vitest";
import { classifyInvocation } from "./classify.js";

const exited = (exitCode: number | null) => ({ spawnError: null, timedOut: false, signal: null, exitCode });
const said = (t: { authError?: string; rateLimit?: string; resultError?: string }) => ({
  authError: t.authError ?? null,
  rateLimit: t.rateLimit ?? null,
  resultError: t.resultError ?? null,
});

describe("classifyInvocation", () => {
  it("exit 0 with nothing reported is ok; any other exit is task-failed", () => {
    expect(classifyInvocation("sh", exited(0), null)).toEqual({ outcome: "ok", detail: null });
    expect(classifyInvocation("sh", exited(0), said({}))).toEqual({ outcome: "ok", detail: null });
    expect(classifyInvocation("sh", exited(1), null)).toEqual({ outcome: "task-failed", detail: null });
    expect(classifyInvocation("sh", exited(null), null)).toEqual({ outcome: "task-failed", detail: null });
  });

  it("a program that could not be started is backend-missing, named with the spawn error", () => {
    const r = { ...exited(null), spawnError: "ENOENT" };
    expect(classifyInvocation("codex", r, null)).toEqual({
      outcome: "backend-missing",
      detail: "codex: ENOENT",
    });
  });

  it("a timeout is timeout even though the kill left a signal", () => {
    const r = { ...exited(null), timedOut: true, signal: "SIGTERM" };
    expect(classifyInvocation("codex", r, said({ authError: "401" }))).toEqual({
      outcome: "timeout",
      detail: null,
    });
  });

  it("death by a signal is crashed, before anything the transcript says", () => {
    const r = { ...exited(null), signal: "SIGSEGV" };
    expect(classifyInvocation("claude", r, said({ authError: "Invalid API key" }))).toEqual({
      outcome: "crashed",
      detail: "killed by SIGSEGV",
    });
  });

  it("the backend's auth failure is auth-failed, whatever the exit code, and wins over a rate limit", () => {
    for (const code of [0, 1]) {
      expect(
        classifyInvocation("claude", exited(code), said({ authError: "Invalid API key", rateLimit: "429" })),
      ).toEqual({ outcome: "auth-failed", detail: "Invalid API key" });
    }
  });

  it("the backend's rate limit is rate-limited, whatever the exit code", () => {
    for (const code of [0, 1]) {
      expect(
        classifyInvocation("codex", exited(code), said({ rateLimit: "status 429", resultError: "x" })),
      ).toEqual({
        outcome: "rate-limited",
        detail: "status 429",
      });
    }
  });

  it("an error result is task-failed even with exit 0, and explains a non-zero exit", () => {
    expect(classifyInvocation("claude", exited(0), said({ resultError: "max turns" }))).toEqual({
      outcome: "task-failed",
      detail: "max turns",
    });
    expect(classifyInvocation("claude", exited(2), said({ resultError: "boom" }))).toEqual({
      outcome: "task-failed",
      detail: "boom",
    });
  });

  it("a spawn error wins over everything else", () => {
    const r = { spawnError: "EACCES", timedOut: true, signal: "SIGKILL", exitCode: null };
    expect(classifyInvocation("./tool", r, said({ authError: "a" })).outcome).toBe("backend-missing");
  });
});
