// tracedRun: the run goes on as it would without traces when none are asked for, and when the
// tracing cannot start (a malformed endpoint); with traces, workers get the run's TRACEPARENT.
import type { ProgressEvent } from "@dwm/dispatcher";
import type { RunOutcome } from "@dwm/schemas";
import { FakeClock, makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import type { CommandContext } from "../../command.js";
import { tracedRun } from "./traced-run.js";

const outcome = {
  status: "complete",
  exit_code: 0,
  detail: "done",
  this_run: { attempts: 0 },
} as unknown as RunOutcome;

function ctxWith(env: Record<string, string>): CommandContext {
  return { cwd: "/", env, clock: new FakeClock(), isTTY: false, emit: () => {} };
}

describe("tracedRun", () => {
  it("without OTEL_* variables runs as is: the same environment, no note", async () => {
    const notes: ProgressEvent[] = [];
    const env = { PATH: "/bin" };
    let seen: unknown = null;
    const r = await tracedRun(
      ctxWith(env),
      { runDir: "/nowhere", runId: "r" },
      (p) => notes.push(p),
      async (_p, e) => {
        seen = e;
        return outcome;
      },
    );
    expect(r).toBe(outcome);
    expect(seen).toBe(env);
    expect(notes).toEqual([]);
  });

  it("a malformed endpoint turns traces off with a note; the run still runs, without TRACEPARENT", async () => {
    const notes: ProgressEvent[] = [];
    let seen: Record<string, string | undefined> = {};
    const r = await tracedRun(
      ctxWith({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "::bad" }),
      { runDir: "/nowhere", runId: "r" },
      (p) => notes.push(p),
      async (_p, e) => {
        seen = { ...e };
        return outcome;
      },
    );
    expect(r).toBe(outcome);
    expect(seen.TRACEPARENT).toBeUndefined();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ kind: "note" });
    expect((notes[0] as { message: string }).message).toMatch(/^traces: off \(.*::bad/);
  });

  it("with an endpoint, the run gets TRACEPARENT and the end says what was sent or dropped", async () => {
    const dir = makeTempDir("dwm-traced-run-");
    try {
      const notes: ProgressEvent[] = [];
      let seen: Record<string, string | undefined> = {};
      await tracedRun(
        // Nothing listens on port 9 of the loopback: every span is dropped, quickly.
        ctxWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_BSP_SCHEDULE_DELAY: "1" }),
        { runDir: dir.path, runId: "r" },
        (p) => notes.push(p),
        async (_p, e) => {
          seen = { ...e };
          return outcome;
        },
      );
      expect(seen.TRACEPARENT).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect((notes.at(-1) as { message: string }).message).toBe(
        "traces: 0 span(s) sent to http://127.0.0.1:9/v1/traces, 1 dropped (collector unreachable, too slow, or the queue was full)",
      );
    } finally {
      dir.cleanup();
    }
  });
});
