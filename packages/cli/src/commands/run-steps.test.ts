// dwm run's deciding steps alone: which options are refused, how progress is shown, what a
// progress line and the closing summary say for each event type and outcome.
import { isDwmError } from "@dwm/core";
import { type JournalEvent, RISK_CATEGORIES, type RunOutcome } from "@dwm/schemas";
import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import type { CommandContext, ParsedArgs } from "../command.js";
import { eventLine, printerMode, render, runOptions } from "./run.js";

const ctx: CommandContext = {
  cwd: "/",
  env: {},
  clock: new FakeClock(),
  isTTY: false,
  emit: () => undefined,
};
const args = (values: ParsedArgs["values"], json = false): ParsedArgs => ({ positionals: [], values, json });

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isDwmError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

describe("runOptions", () => {
  it("takes what the options say", () => {
    expect(
      runOptions(
        args({
          until: "gate",
          ndjson: true,
          concurrency: "3",
          "max-attempts": "0",
          approve: ["write, network", "write"],
        }),
        ctx,
      ),
    ).toEqual({
      until: "gate",
      ndjson: true,
      concurrency: 3,
      maxAttempts: 0,
      tokenBudget: undefined,
      approve: ["write", "network"],
      quiet: false,
    });
  });

  it("takes --infra-retries and --infra-backoff", () => {
    expect(runOptions(args({ "infra-retries": "0", "infra-backoff": "5000, 30000" }), ctx)).toMatchObject({
      infraRetries: 0,
      infraBackoffMs: [5000, 30000],
    });
  });

  it.each([
    [args({ "infra-retries": "-1" }), 'ERR_CLI_USAGE: --infra-retries must be a whole number ≥ 0, not "-1"'],
    [
      args({ "infra-backoff": "5000,,1" }),
      'ERR_CLI_USAGE: --infra-backoff takes delays in milliseconds separated by commas (e.g. 5000,30000), not "5000,,1"',
    ],
    [args({ until: "done" }), 'ERR_CLI_USAGE: --until must be gate or complete, not "done"'],
    [args({ ndjson: true }, true), "ERR_CLI_USAGE: --json and --ndjson cannot be used together"],
    [args({ ndjson: true, quiet: true }), "ERR_CLI_USAGE: --quiet and --ndjson cannot be used together"],
    [args({ remote: "/srv/git/app.git" }), "ERR_CLI_USAGE: --remote goes with --queue"],
    [
      args({ queue: "redis://localhost" }),
      "ERR_CLI_USAGE: --queue needs --remote: the git remote workers fetch from and push to",
    ],
    [args({ concurrency: "0" }), 'ERR_CLI_USAGE: --concurrency must be a whole number ≥ 1, not "0"'],
    [args({ "token-budget": "-1" }), 'ERR_CLI_USAGE: --token-budget must be a whole number ≥ 0, not "-1"'],
    [
      args({ "budget-usd": "-1" }),
      "ERR_CLI_USAGE: --budget-usd must be a number of US dollars ≥ 0, e.g. 5 or 2.50",
    ],
    [
      args({ "budget-usd": "1e3" }),
      "ERR_CLI_USAGE: --budget-usd must be a number of US dollars ≥ 0, e.g. 5 or 2.50",
    ],
    [
      args({ approve: "write,human-review" }),
      `ERR_CLI_USAGE: --approve takes risk categories (${RISK_CATEGORIES.join(", ")}), not "human-review"`,
    ],
  ])("refuses %j", (a, message) => {
    expect(refusal(() => runOptions(a, ctx))).toBe(message);
  });

  it("takes --budget-usd as dollars and cents", () => {
    expect(runOptions(args({ "budget-usd": "2.50" }), ctx).usdBudget).toBe(2.5);
    expect(runOptions(args({ "budget-usd": "0" }), ctx).usdBudget).toBe(0);
    expect(runOptions(args({}), ctx).usdBudget).toBeUndefined();
  });

  it("refuses --approve inside a worker's environment, and only with --approve", () => {
    const worker = { ...ctx, env: { DWM_ATTEMPT: "1" } };
    expect(refusal(() => runOptions(args({ approve: "write" }), worker))).toBe(
      "ERR_GATE_APPROVER_IS_WORKER: refusing --approve write: the environment has DWM_ATTEMPT, which DWM gives its workers",
    );
    expect(refusal(() => runOptions(args({}), worker))).toBe("accepted");
  });
});

describe("printerMode", () => {
  it("NDJSON when asked, nothing under --json, a status line on a terminal, else lines", () => {
    expect(printerMode(true, false, true)).toBe("ndjson");
    expect(printerMode(false, true, true)).toBe("none");
    expect(printerMode(false, false, true)).toBe("tty");
    expect(printerMode(false, false, false)).toBe("lines");
    expect(printerMode(false, false, true, true)).toBe("none");
    expect(printerMode(false, false, false, true)).toBe("none");
  });
});

const event = (type: string, data: Record<string, unknown>) =>
  ({ seq: 1, type, data }) as unknown as JournalEvent;

describe("eventLine", () => {
  it.each([
    [
      "packet.reviewed",
      { packet_id: "a", attempt: 2, verdict: "approved" },
      "packet.reviewed a attempt 2 approved",
    ],
    ["attempt.recorded", { packet_id: "a", attempt: 1, outcome: "ok" }, "attempt.recorded a attempt 1 ok"],
    ["run.stopped", { reason: "gate", detail: "g waits" }, "run.stopped gate: g waits"],
    ["run.stopped", { reason: "budget" }, "run.stopped budget"],
    [
      "packet.dispatched",
      { packet_id: "a", attempt: 1, backend: "shell" },
      "packet.dispatched a attempt 1 (shell)",
    ],
    ["packet.dispatched", { packet_id: "a", attempt: 1 }, "packet.dispatched a attempt 1"],
    [
      "integration.merged",
      { packet_id: "a", commit: "0123456789abcdef" },
      "integration.merged a 0123456789ab",
    ],
    ["integration.conflict", { packet_id: "a", paths: ["x", "y"] }, "integration.conflict a in x, y"],
    ["gate.opened", { gate_id: "g" }, "gate.opened g"],
    ["handoff.registered", { artifact: "h.json" }, "handoff.registered h.json"],
  ])("%s %j", (type, data, line) => {
    expect(eventLine(event(type, data))).toBe(line);
  });
});

function outcome(status: RunOutcome["status"], parts: Partial<RunOutcome> = {}): RunOutcome {
  return {
    run_id: "r",
    status,
    detail: "why",
    counts: { pending: 1, completed: 2 },
    this_run: { attempts: 3, events: 9, abandoned: [], approvals: [] },
    integration: null,
    waiting_gates: [],
    failed: [],
    next: null,
    ...parts,
  } as unknown as RunOutcome;
}

describe("render", () => {
  it.each([
    ["complete", "Run r is complete."],
    ["gate", "Run r stopped at a gate (exit 4)."],
    ["budget", "Run r stopped: budget spent (exit 5)."],
    ["interrupted", "Run r was interrupted (exit 1)."],
    ["failed", "Run r failed (exit 1)."],
  ] as const)("%s starts with its headline", (status, head) => {
    expect(render(outcome(status), "r").split("\n").slice(0, 5)).toEqual([
      "",
      head,
      "  why",
      "  packets: completed 2, pending 1",
      "  this run: 3 attempt(s), 9 event(s)",
    ]);
  });

  it("at a gate, next is to review and decide it, then run again, one command a line", () => {
    const o = outcome("gate", {
      waiting_gates: [{ gate_id: "g", category: "write", packets: ["a"] }] as RunOutcome["waiting_gates"],
      next: ["dwm", "approve", "r", "g"],
    });
    expect(render(o, "r --store s").split("\n").slice(5)).toEqual([
      "  gate g (write) holds a",
      "",
      "Next: review gate g, decide it, then run again:",
      "  $ dwm gates r --store s",
      "  $ dwm approve r g --store s",
      "  $ dwm run r --store s",
    ]);
  });

  it("a failed packet: show its evidence; failed with none: status; complete: land and the report; else run again", () => {
    const failed = outcome("failed", { failed: [{ packet_id: "b", reason: "checks failed" }] });
    expect(render(failed, "r").split("\n").slice(5)).toEqual([
      "  failed b: checks failed",
      "",
      "Next: read the evidence of b:",
      "  $ dwm show r b",
    ]);
    expect(render(outcome("failed"), "r").split("\n").slice(5)).toEqual([
      "",
      "Next: see what holds the run:",
      "  $ dwm status r",
    ]);
    // Complete: land the result into the branch the run started from, then the report.
    expect(
      render(outcome("complete", { next: ["dwm", "land", "r"] }), "r --store s")
        .split("\n")
        .slice(5),
    ).toEqual([
      "",
      "Next: bring the result into the branch the run started from; read the report:",
      "  $ dwm land r --store s",
      "  $ dwm report r --store s",
    ]);
    // No branch recorded (a detached HEAD): the report; land names no branch it cannot know.
    expect(render(outcome("complete"), "r").split("\n").slice(5)).toEqual([
      "",
      "Next: the run's report; the run recorded no branch it started from, so name one to land its result (dwm land r --into BRANCH):",
      "  $ dwm report r",
    ]);
    for (const status of ["budget", "interrupted"] as const) {
      expect(render(outcome(status), "r --store s").split("\n").slice(-1)).toEqual([
        "  $ dwm run r --store s",
      ]);
    }
  });
});
