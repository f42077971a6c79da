import { canonicalJson, type Digest, digest } from "@dwm/core";
import type { JournalEvent, Run, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventDraft } from "./events.js";
import { applyEvent, foldJournal, initialState } from "./fold.js";
import { chainEvents } from "./test-support/chain.js";
import { D, packetEntries, testRun } from "./test-support/runs.js";

const run: Run = testRun({
  packets: packetEntries(["a", "b", "c", "hg"]),
  gates: [{ gate_id: "g", digest: D(30) }],
});

/** Chain drafts into events (what Journal.append does, without the disk). */
const chain = (drafts: EventDraft[], start: JournalEvent[] = []) => chainEvents(run, drafts, start);

const opened: EventDraft = {
  type: "run.opened",
  data: {
    run_digest: digest(run),
    plan_digest: D(1),
    revision: 1,
    packets: ["a", "b", "c", "hg"],
    gates: ["g"],
  },
};

/** Every event the state allows next, for one packet (a small random scheduler/ingester). */
function legalNext(s: RunState, id: string, choice: number): EventDraft | null {
  const p = s.packets[id];
  if (!p) return null;
  const n = p.attempts;
  const options: EventDraft[] = [];
  switch (p.state) {
    case "pending":
    case "repairing":
    case "abandoned":
      options.push({
        type: "packet.dispatched",
        data: { packet_id: id, attempt: n + 1, packet_digest: D(10), base_commit: null },
      });
      break;
    case "dispatched":
      options.push(
        {
          type: "attempt.recorded",
          data: {
            packet_id: id,
            attempt: n,
            outcome: choice % 2 ? "ok" : "timeout",
            attempt_digest: D(n),
            files: [],
          },
        },
        { type: "packet.abandoned", data: { packet_id: id, attempt: n, reason: "runner died" } },
      );
      break;
    case "attempted": {
      const verdicts = ["approved", "changes-requested", "needs-human", "infra-failed"] as const;
      options.push({
        type: "packet.reviewed",
        data: {
          packet_id: id,
          attempt: n,
          verdict: verdicts[choice % 4] ?? "approved",
          review_digest: D(n),
          files: [],
        },
      });
      break;
    }
    case "reviewed":
      if (p.last_verdict === "approved")
        options.push({ type: "packet.completed", data: { packet_id: id, attempt: n } });
      else if (p.last_verdict === "infra-failed")
        options.push({
          type: "infra.retry-scheduled",
          data: { packet_id: id, attempt: n, reason: "timeout", retry: p.infra_retries + 1 },
        });
      else
        options.push(
          { type: "repair.scheduled", data: { packet_id: id, next_attempt: n + 1, reason: "findings" } },
          { type: "packet.failed", data: { packet_id: id, reason: "retries spent" } },
        );
      break;
    case "needs-human":
      options.push({ type: "packet.reopened", data: { packet_id: id, reason: "human asked for rework" } });
      break;
    case "failed":
    case "completed":
      options.push({ type: "packet.reopened", data: { packet_id: id, reason: "plan changed" } });
      break;
    default:
      break;
  }
  return options[choice % Math.max(1, options.length)] ?? null;
}

/** A random legal journal: events and the state after each. */
function randomJournal(choices: [number, number][]): { events: JournalEvent[]; states: string[] } {
  let events = chain([opened]);
  const state = initialState(run);
  applyEvent(state, events[0] as JournalEvent);
  const states = [canonicalJson(state)];
  for (const [which, choice] of choices) {
    const ids = ["a", "b", "c"];
    const draft =
      which % 11 === 10
        ? ({ type: "run.stopped", data: { reason: "interrupted" } } as EventDraft)
        : legalNext(state, ids[which % 3] ?? "a", choice);
    if (!draft) continue;
    events = chain([draft], events);
    applyEvent(state, events.at(-1) as JournalEvent);
    states.push(canonicalJson(state));
  }
  return { events, states };
}

describe("foldJournal", () => {
  it("is deterministic and a prefix replays to the state at that point (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(100), fc.nat(100)), { maxLength: 60 }), (choices) => {
        const { events, states } = randomJournal(choices);
        const full = canonicalJson(foldJournal(events, run));
        expect(canonicalJson(foldJournal(structuredClone(events), run))).toBe(full);
        expect(full).toBe(states.at(-1));
        for (let k = 1; k <= events.length; k++) {
          expect(canonicalJson(foldJournal(events.slice(0, k), run))).toBe(states[k - 1]);
        }
        const s = foldJournal(events, run);
        expect(validateSchema("run-state", s).problems).toEqual([]);
        expect(s.seq).toBe(events.length);
        expect(s.head).toBe(events.at(-1)?.digest);
      }),
      { numRuns: 120 },
    );
  });

  it("before any event: every packet pending, every gate closed", () => {
    const s = foldJournal([], run);
    expect(Object.values(s.packets).map((p) => p?.state)).toEqual([
      "pending",
      "pending",
      "pending",
      "pending",
    ]);
    expect(s.gates.g?.state).toBe("closed");
    expect(s.run_digest).toBe(digest(run));
    expect(s.head).toBeNull();
  });

  const transition = (drafts: EventDraft[]) => {
    try {
      foldJournal(chain([opened, ...drafts]), run);
    } catch (e) {
      return (e as { code: string; message: string }).code;
    }
    return "ok";
  };

  it("completes a packet only after an approved review of that attempt", () => {
    const dispatched: EventDraft = {
      type: "packet.dispatched",
      data: { packet_id: "a", attempt: 1, packet_digest: D(10), base_commit: null },
    };
    const recorded: EventDraft = {
      type: "attempt.recorded",
      data: { packet_id: "a", attempt: 1, outcome: "ok", attempt_digest: D(3), files: [] },
    };
    const review = (verdict: "approved" | "changes-requested"): EventDraft => ({
      type: "packet.reviewed",
      data: { packet_id: "a", attempt: 1, verdict, review_digest: D(4), files: [] },
    });
    const complete: EventDraft = { type: "packet.completed", data: { packet_id: "a", attempt: 1 } };
    expect(transition([complete])).toBe("ERR_JOURNAL_TRANSITION");
    expect(transition([dispatched, recorded, complete])).toBe("ERR_JOURNAL_TRANSITION");
    expect(transition([dispatched, recorded, review("changes-requested"), complete])).toBe(
      "ERR_JOURNAL_TRANSITION",
    );
    expect(transition([dispatched, recorded, review("approved"), complete])).toBe("ok");
    expect(
      transition([dispatched, { ...dispatched, data: { ...dispatched.data, attempt: 2 } } as EventDraft]),
    ).toBe("ERR_JOURNAL_TRANSITION");
    expect(transition([{ ...dispatched, data: { ...dispatched.data, attempt: 2 } } as EventDraft])).toBe(
      "ERR_JOURNAL_TRANSITION",
    );
    expect(transition([{ ...dispatched, data: { ...dispatched.data, packet_id: "zz" } } as EventDraft])).toBe(
      "ERR_JOURNAL_TRANSITION",
    );
  });

  it("completes a human-gate packet by an approved gate holding it, bound to the gate digest", () => {
    const open: EventDraft = {
      type: "gate.opened",
      data: { gate_id: "hg-gate", gate_digest: D(40), packets: ["hg"], reason: "human gate" },
    };
    const approve = (d: Digest): EventDraft => ({
      type: "gate.approved",
      data: { gate_id: "hg-gate", gate_digest: d, approval_digest: D(41), files: [] },
    });
    const complete: EventDraft = { type: "packet.completed", data: { packet_id: "hg", attempt: 0 } };
    expect(transition([open, complete])).toBe("ERR_JOURNAL_TRANSITION");
    expect(transition([open, approve(D(99))])).toBe("ERR_JOURNAL_TRANSITION");
    expect(transition([open, approve(D(40)), complete])).toBe("ok");
    expect(transition([open, approve(D(40)), approve(D(40))])).toBe("ERR_JOURNAL_TRANSITION");
  });

  it("completes the run only when every packet is completed", () => {
    expect(transition([{ type: "run.completed", data: {} }])).toBe("ERR_JOURNAL_TRANSITION");
  });

  it("resets a changed gate on recompile, so an old approval no longer holds", () => {
    const events = chain([
      opened,
      {
        type: "gate.approved",
        data: { gate_id: "g", gate_digest: D(30), approval_digest: D(31), files: [] },
      },
      {
        type: "run.recompiled",
        data: {
          run_digest: D(50),
          plan_digest: D(51),
          revision: 2,
          changes: {
            added: ["d"],
            changed: [],
            removed: ["c"],
            downstream: [],
            gates: { added: [], changed: ["g"], removed: [] },
          },
        },
      },
    ]);
    const s = foldJournal(events, run);
    expect(s.gates.g).toEqual({
      state: "closed",
      gate_digest: null,
      packets: [],
      reason: null,
      approval_digest: null,
      seq: 3,
    });
    expect(Object.keys(s.packets).sort()).toEqual(["a", "b", "d", "hg"]);
    expect(s.revision).toBe(2);
    expect(s.run_digest).toBe(D(50));
  });

  it("keeps the last stop until a later event", () => {
    const s1 = foldJournal(
      chain([opened, { type: "run.stopped", data: { reason: "gate", detail: "g" } }]),
      run,
    );
    expect(s1.stopped).toEqual({ reason: "gate", detail: "g", seq: 2 });
    const s2 = foldJournal(
      chain([
        opened,
        { type: "run.stopped", data: { reason: "gate" } },
        { type: "lease.taken", data: { pid: 1, host: "h" } },
      ]),
      run,
    );
    expect(s2.stopped).toBeNull();
  });
});
