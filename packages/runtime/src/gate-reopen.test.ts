import type { GateState, JournalEvent, RunState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { applyEvent } from "./fold.js";
import { gateAskDigest, gatesAfterReopen, reopenedGateDigest } from "./gate-reopen.js";
import { newGate, newPacket } from "./internal/fold-base.js";
import { D, stateWith } from "./test-support/runs.js";

/** build, report and accept completed; these gates. */
const stateOf = (gates: Record<string, Partial<GateState>>): RunState =>
  stateWith(
    { build: { state: "completed" }, report: { state: "completed" }, accept: { state: "completed" } },
    gates,
  );

const compiled = new Map([
  ["write", { packets: ["build"], source: "worker-permission" }],
  ["human-gate-accept", { packets: ["accept"], source: "human-gate-phase" }],
]);
const cause = (changed: string[] = []) => ({
  reason: "revision 2 changed build",
  detail: { revision: 2 },
  changed,
});

function apply(s: RunState, seq: number, type: string, data: Record<string, unknown>): void {
  applyEvent(s, {
    seq,
    prev: D(seq),
    type,
    at: "2026-01-01T00:00:00.000Z",
    data,
    digest: D(100 + seq),
  } as JournalEvent);
}

describe("gatesAfterReopen", () => {
  it("a human gate judged the work: any reopened packet it holds reopens it, with a new digest", () => {
    const s = stateOf({
      "human-gate-accept": {
        state: "approved",
        gate_digest: D(5),
        approval_digest: D(6),
        packets: ["accept"],
      },
      write: { state: "approved", gate_digest: D(7), approval_digest: D(8) },
    });
    const drafts = gatesAfterReopen(s, compiled, ["report", "accept"], cause());
    expect(drafts).toEqual([
      {
        type: "gate.reopened",
        data: {
          gate_id: "human-gate-accept",
          gate_digest: reopenedGateDigest(
            "human-gate-accept",
            s.gates["human-gate-accept"] as GateState,
            ["accept"],
            cause(),
          ),
          packets: ["accept"],
          reason: "revision 2 changed build; accept will run again, so the gate is asked again",
        },
      },
    ]);
    const data = drafts[0]?.data as { gate_digest: string } | undefined;
    expect(data?.gate_digest).not.toBe(D(5));
  });

  it("a risk gate permitted what its packets do: only a packet whose content changed reopens it", () => {
    const s = stateOf({ write: { state: "approved", gate_digest: D(7), approval_digest: D(8) } });
    expect(gatesAfterReopen(s, compiled, ["build"], cause([]))).toEqual([]);
    const drafts = gatesAfterReopen(s, compiled, ["build"], cause(["build"]));
    expect(drafts.map((d) => [d.type, (d.data as { gate_id: string }).gate_id])).toEqual([
      ["gate.reopened", "write"],
    ]);
  });

  it("an open run-time gate is superseded; decided run-time gates, never-asked gates and excepted gates stay", () => {
    const s = stateOf({
      "needs-human/report/2": { state: "open", gate_digest: D(9), packets: ["report"] },
      "needs-human/report/1": { state: "approved", gate_digest: D(10), packets: ["report"] },
      "human-gate-accept": { state: "closed", packets: [] },
    });
    expect(gatesAfterReopen(s, compiled, ["report", "accept"], cause(), ["needs-human/report/2"])).toEqual(
      [],
    );
    expect(gatesAfterReopen(s, compiled, ["report", "accept"], cause())).toEqual([
      {
        type: "gate.superseded",
        data: {
          gate_id: "needs-human/report/2",
          packets: ["report"],
          reason: "revision 2 changed build; report will run again",
        },
      },
    ]);
  });
});

describe("gateAskDigest", () => {
  it("the compiled digest the first time; the reopen's digest after a reopen; after a rejection, one over the rejection and the work", () => {
    const s = stateOf({});
    expect(gateAskDigest(s, "human-gate-accept", D(5), ["accept"])).toBe(D(5));
    s.gates["human-gate-accept"] = { ...newGate(), state: "closed", gate_digest: D(11) };
    expect(gateAskDigest(s, "human-gate-accept", D(5), ["accept"])).toBe(D(11));
    s.gates["human-gate-accept"] = {
      ...newGate(),
      state: "rejected",
      gate_digest: D(5),
      approval_digest: D(6),
    };
    const again = gateAskDigest(s, "human-gate-accept", D(5), ["accept", "report"]);
    expect(again).not.toBe(D(5));
    // The work it is asked about is part of it: a new commit upstream, a new digest.
    (s.packets.report as { commit: string | null }).commit = "c".repeat(40);
    expect(gateAskDigest(s, "human-gate-accept", D(5), ["accept", "report"])).not.toBe(again);
  });
});

describe("the fold of gate.reopened, gate.superseded and packet.skipped", () => {
  it("reopened: back to closed with the new digest; an approval of the old one is then refused", () => {
    const s = stateOf({ write: { state: "approved", gate_digest: D(7), approval_digest: D(8) } });
    apply(s, 1, "gate.reopened", { gate_id: "write", gate_digest: D(12), packets: ["build"], reason: "r" });
    expect(s.gates.write).toMatchObject({
      state: "closed",
      gate_digest: D(12),
      approval_digest: null,
      reason: "r",
    });
    expect(() =>
      apply(s, 2, "gate.approved", {
        gate_id: "write",
        gate_digest: D(7),
        approval_digest: D(13),
        files: [],
      }),
    ).toThrow(/gate digest/);
    apply(s, 2, "gate.approved", { gate_id: "write", gate_digest: D(12), approval_digest: D(13), files: [] });
    expect(s.gates.write?.state).toBe("approved");
    // Never with the digest it had.
    expect(() =>
      apply(s, 3, "gate.reopened", { gate_id: "write", gate_digest: D(12), packets: ["build"], reason: "r" }),
    ).toThrow(/the digest it had/);
  });

  it("superseded: only an open gate, and it can be neither decided nor reopened afterwards", () => {
    const s = stateOf({ nh: { state: "open", gate_digest: D(9), packets: ["report"] } });
    apply(s, 1, "gate.superseded", { gate_id: "nh", packets: ["report"], reason: "gone" });
    expect(s.gates.nh).toMatchObject({ state: "superseded", reason: "gone" });
    expect(() => apply(s, 2, "gate.superseded", { gate_id: "nh", packets: [], reason: "x" })).toThrow(
      /not open/,
    );
    expect(() =>
      apply(s, 2, "gate.approved", { gate_id: "nh", gate_digest: D(9), approval_digest: D(13), files: [] }),
    ).toThrow(/already superseded/);
    expect(() =>
      apply(s, 2, "gate.reopened", { gate_id: "nh", gate_digest: D(14), packets: [], reason: "x" }),
    ).toThrow(/superseded/);
  });

  it("skipped: a pending packet counts as settled (the run may complete); a reopen brings it back", () => {
    const s = stateOf({});
    s.packets.build = { ...newPacket() };
    expect(() => apply(s, 1, "run.completed", {})).toThrow(/not completed: build/);
    apply(s, 1, "packet.skipped", {
      packet_id: "build",
      gates: ["write"],
      upstream: [],
      reason: "write not approved",
    });
    expect(s.packets.build).toMatchObject({ state: "skipped", reason: "write not approved" });
    apply(s, 2, "run.completed", {});
    expect(s.completed).toBe(true);
    expect(() =>
      apply(s, 3, "packet.skipped", { packet_id: "build", gates: ["write"], upstream: [], reason: "again" }),
    ).toThrow(/skipped/);
    apply(s, 3, "packet.reopened", { packet_id: "build", reason: "write approved" });
    expect(s.packets.build?.state).toBe("pending");
    expect(s.completed).toBe(false);
  });
});
