// dwm next's deciding steps alone: a broken store, and what each frontier status leads to.
import { describe, expect, it } from "vitest";
import { frontier, packet, runState, verifyReport } from "../test-support/states.js";
import { frontierDecision, integrityDecision } from "./next.js";

const ref = ["r", "--store", "s"];

describe("integrityDecision", () => {
  const torn = { code: "ERR_JOURNAL_TORN", file: "journal.jsonl", message: "torn", repairable: true };
  const broken = { code: "ERR_DIGEST", file: "run.json", message: "changed", repairable: false };

  it("nothing to say about an intact store", () => {
    expect(integrityDecision(verifyReport(), ref)).toBeNull();
  });

  it("a torn last line is cut off by running; anything else is repaired first", () => {
    expect(integrityDecision(verifyReport([torn]), ref)).toMatchObject({
      action: "run",
      argv: ["dwm", "run", "r", "--store", "s"],
    });
    expect(integrityDecision(verifyReport([broken, torn]), ref)).toEqual({
      action: "repair-store",
      reason:
        "the run store failed verification (2 problem(s), first ERR_DIGEST run.json); nothing should run until it is restored",
      argv: ["dwm", "verify", "r", "--store", "s"],
    });
  });
});

describe("frontierDecision", () => {
  const decide = (f: ReturnType<typeof frontier>, state = runState()) => frontierDecision(f, state, "r", ref);

  it("complete: nothing to do (also when the state says so first)", () => {
    expect(decide(frontier("complete"))).toEqual({
      action: "complete",
      reason: "every packet is completed and merged; nothing is left to do",
      argv: null,
      extra: { frontier_status: "complete" },
    });
    expect(decide(frontier("failed"), runState({ completed: true })).action).toBe("complete");
  });

  it("running or waiting: run, saying why (orphans, ready packets, gates to open, other work)", () => {
    const reasons = [
      frontier("running", { in_flight: ["a"], dispatch: [{} as never], ready: ["b"] }),
      frontier("running", { dispatch: [{} as never], ready: ["b", "c"] }),
      frontier("waiting", { open_gates: [{ gate_id: "g", packets: [], reason: "x" }] }),
      frontier("waiting"),
    ].map((f) => decide(f));
    expect(reasons.map((d) => [d.action, d.argv?.join(" "), d.reason])).toEqual([
      [
        "run",
        "dwm run r --store s",
        "1 packet(s) were in flight when the last runner stopped (a); running resumes them",
      ],
      ["run", "dwm run r --store s", "2 packet(s) are ready (b, c)"],
      ["run", "dwm run r --store s", "the run reached g; running opens it for a decision"],
      ["run", "dwm run r --store s", "work is left that the runner can do"],
    ]);
  });

  it("gate: approve the first waiting gate, naming what it holds; --store goes after the gate", () => {
    const f = frontier("gate", {
      waiting_gates: ["g", "h"],
      blocked: [{ packet_id: "a", reason: "gate", detail: "held by g", waiting_on: ["g"] }],
    });
    expect(decide(f)).toEqual({
      action: "approve-gate",
      reason:
        "gate g waits for a decision (it holds a): review it with dwm gates, then approve it, or reject it with a reason (dwm reject r g --reason TEXT)",
      argv: ["dwm", "approve", "r", "g", "--store", "s"],
      extra: { frontier_status: "gate", gate_id: "g" },
    });
    const opened = runState({
      gates: {
        g: { state: "open", gate_digest: null, packets: ["b"], reason: null, approval_digest: null, seq: 1 },
      },
    });
    expect(decide(f, opened).reason).toContain("(it holds b)");
  });

  it("budget: run again", () => {
    expect(decide(frontier("budget"))).toMatchObject({ action: "run", extra: { frontier_status: "budget" } });
  });

  it("failed: retry an infrastructure failure, inspect a failed packet, else look at what is blocked", () => {
    const infra = frontier("failed", {
      blocked: [{ packet_id: "a", reason: "infra", detail: "login", waiting_on: [] }],
    });
    expect(decide(infra)).toMatchObject({
      action: "run",
      argv: ["dwm", "run", "r", "--store", "s"],
      extra: { frontier_status: "failed", packet_id: "a" },
    });
    const failed = runState({ packets: { b: packet("failed", { reason: "checks failed" }) } });
    expect(decide(frontier("failed", { failed: ["b"] }), failed)).toEqual({
      action: "inspect-failure",
      reason:
        "packet b failed: checks failed; read its evidence, fix the plan or the code, compile again and run",
      argv: ["dwm", "show", "r", "b", "--store", "s"],
      extra: { frontier_status: "failed", packet_id: "b" },
    });
    const stuck = frontier("failed", {
      blocked: [{ packet_id: "c", reason: "upstream-failed", detail: "after b", waiting_on: ["b"] }],
    });
    expect(decide(stuck)).toEqual({
      action: "inspect-failure",
      reason: "nothing can run: c after b",
      argv: ["dwm", "status", "r", "--store", "s"],
      extra: { frontier_status: "failed", packet_id: "c" },
    });
    expect(decide(frontier("failed"))).toMatchObject({
      reason: "nothing can run",
      extra: { packet_id: null },
    });
  });
});
