// dwm worker's option check and event lines alone.
import os from "node:os";
import { isDwmError } from "@dwm/core";
import { describe, expect, it } from "vitest";
import type { ParsedArgs } from "../command.js";
import { workerEventLine, workerOptions } from "./worker.js";

const args = (values: ParsedArgs["values"]): ParsedArgs => ({ positionals: [], values, json: false });

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isDwmError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

describe("workerOptions", () => {
  it("defaults: concurrency 1, this host and process as the name", () => {
    expect(workerOptions(args({ queue: "redis://q", backends: ["shell, codex", "shell"] }))).toEqual({
      queue: "redis://q",
      backends: ["shell", "codex"],
      concurrency: 1,
      lockMs: undefined,
      stalledMs: undefined,
      prefix: undefined,
      name: `${os.hostname()}:${process.pid}`,
      cacheDir: undefined,
    });
  });

  it("takes every option", () => {
    expect(
      workerOptions(
        args({
          queue: "redis://q",
          backends: "claude",
          concurrency: "4",
          "lock-ms": "1000",
          "stalled-ms": "500",
          "queue-prefix": "p",
          name: "w1",
          "cache-dir": "/c",
        }),
      ),
    ).toEqual({
      queue: "redis://q",
      backends: ["claude"],
      concurrency: 4,
      lockMs: 1000,
      stalledMs: 500,
      prefix: "p",
      name: "w1",
      cacheDir: "/c",
    });
  });

  it.each([
    [{}, "ERR_CLI_USAGE: dwm worker needs --queue redis://… (or rediss:// for TLS)"],
    [
      { queue: "redis://q" },
      "ERR_CLI_USAGE: dwm worker needs --backends: the backends it may run (dry-run, shell, codex, claude, command)",
    ],
    [
      { queue: "redis://q", backends: "shell,bash" },
      'ERR_CLI_USAGE: --backends takes dry-run, shell, codex, claude, command, not "bash"',
    ],
    [
      { queue: "redis://q", backends: "shell", "lock-ms": "999" },
      'ERR_CLI_USAGE: --lock-ms must be a whole number ≥ 1000, not "999"',
    ],
  ])("refuses %j", (values, message) => {
    expect(refusal(() => workerOptions(args(values)))).toBe(message);
  });
});

describe("workerEventLine", () => {
  it("one line per event kind", () => {
    expect(workerEventLine({ kind: "started", job_id: "j", lane: "shell" })).toBe("started j (shell)");
    expect(workerEventLine({ kind: "finished", job_id: "j", outcome: "ok", duration_ms: 12 })).toBe(
      "finished j: ok in 12 ms",
    );
    expect(workerEventLine({ kind: "failed", job_id: "j", code: "ERR_X", message: "no" })).toBe(
      "failed j: ERR_X: no",
    );
  });
});
