import { digest } from "@dwm/core";
import type { PacketState } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import {
  afterApproval,
  afterChangesRequested,
  afterInfraFailure,
  afterNeedsHuman,
  completionGateToOpen,
  needsHumanGate,
} from "./ingest-review.js";
import { Driver, HUMAN_GATE, makeRun, packet, review } from "./test-support/run.js";

const NOW = "2026-05-01T12:00:00.000Z";

describe("completionGateToOpen: does an approved review open a completion gate instead of completing", () => {
  const hg = packet("human_gate", { human_gate: true, completion_gate: "human-gate" });
  const run = makeRun([hg]);

  it("a human-gate phase's gate that is closed or rejected: yes, with run.json's digest of it", () => {
    const d = new Driver(run);
    expect(completionGateToOpen(d.state, hg, run)).toEqual({
      gate_id: "human-gate",
      digest: digest(HUMAN_GATE),
    });
    (d.state.gates["human-gate"] as { state: string }).state = "rejected";
    expect(completionGateToOpen(d.state, hg, run)?.gate_id).toBe("human-gate");
    delete d.state.gates["human-gate"];
    expect(completionGateToOpen(d.state, hg, run)?.gate_id).toBe("human-gate");
  });

  it("no: a gate already open or approved, a gate run.json does not list, a packet that is not a human gate", () => {
    const d = new Driver(run);
    for (const s of ["open", "approved"]) {
      (d.state.gates["human-gate"] as { state: string }).state = s;
      expect(completionGateToOpen(d.state, hg, run)).toBeNull();
    }
    const other = packet("human_gate", { human_gate: true, completion_gate: "other-gate" });
    expect(completionGateToOpen(new Driver(run).state, other, run)).toBeNull();
    const plain = packet("human_gate", { completion_gate: "human-gate" });
    expect(completionGateToOpen(new Driver(run).state, plain, run)).toBeNull();
  });
});

describe("the events after packet.reviewed, by verdict", () => {
  const p = packet("build", { budget: { max_retries: 2 } });
  const run = makeRun([p]);
  const ctx = { packet: p, run, now: NOW };

  it("approved: every handoff copied and registered, then packet.completed with the attempt's branch", () => {
    const d = new Driver(run);
    const r = review(p, 2, "approved", {
      handoffs: [
        { artifact: "list.json", path: "outputs/list.json", digest: digest("l"), bytes: 10 },
        { artifact: "notes.md", path: "outputs/notes.md", digest: digest("n"), bytes: 4 },
      ],
    });
    const out = afterApproval(d.state, r, ctx);
    expect(out.copies).toEqual([
      {
        artifact: "list.json",
        from: "attempts/build/2/outputs/list.json",
        to: "handoffs/list.json",
        digest: digest("l"),
      },
      {
        artifact: "notes.md",
        from: "attempts/build/2/outputs/notes.md",
        to: "handoffs/notes.md",
        digest: digest("n"),
      },
    ]);
    expect(out.events.map((e) => e.type)).toEqual([
      "handoff.registered",
      "handoff.registered",
      "packet.completed",
    ]);
    expect(out.events[0]).toEqual({
      type: "handoff.registered",
      data: {
        artifact: "list.json",
        from_packet: "build",
        digest: digest("l"),
        files: [{ path: "handoffs/list.json", digest: digest("l") }],
      },
    });
    expect(out.events[2]).toEqual({
      type: "packet.completed",
      data: { packet_id: "build", attempt: 2, branch: r.branch, commit: "c".repeat(40) },
    });
    expect(out.next).toEqual({ kind: "completed" });
    const bare = afterApproval(d.state, { ...r, handoffs: [], branch: null, head_commit: null }, ctx);
    expect(bare.events).toEqual([{ type: "packet.completed", data: { packet_id: "build", attempt: 2 } }]);
  });

  it("changes requested: a repair while budget.max_retries has one left, else the packet fails", () => {
    const r = review(p, 2, "changes-requested");
    const at = (repairs: number) => ({ repairs }) as PacketState;
    expect(afterChangesRequested(at(1), r, ctx)).toEqual({
      events: [
        {
          type: "repair.scheduled",
          data: { packet_id: "build", next_attempt: 3, reason: "repair 2 of 2: REVIEW_VALIDATION_FAILED" },
        },
      ],
      copies: [],
      next: { kind: "repair", next_attempt: 3 },
    });
    const reason = "changes requested after 2 repairs (budget.max_retries 2): REVIEW_VALIDATION_FAILED";
    expect(afterChangesRequested(at(2), r, ctx)).toEqual({
      events: [{ type: "packet.failed", data: { packet_id: "build", reason } }],
      copies: [],
      next: { kind: "failed", reason },
    });
    const one = { ...ctx, packet: packet("build", { budget: { max_retries: 1 } }) };
    expect(afterChangesRequested(at(1), r, one).next).toEqual({
      kind: "failed",
      reason: "changes requested after 1 repair (budget.max_retries 1): REVIEW_VALIDATION_FAILED",
    });
  });

  it("needs-human: opens the gate derived from the review, holding the packet", () => {
    const r = review(p, 3, "needs-human");
    const gate = needsHumanGate(r);
    expect(afterNeedsHuman(r)).toEqual({
      events: [
        {
          type: "gate.opened",
          data: {
            gate_id: "needs-human/build/3",
            gate_digest: digest(gate),
            packets: ["build"],
            reason: gate.trigger,
          },
        },
      ],
      copies: [],
      next: { kind: "gate-opened", gate_id: "needs-human/build/3" },
    });
  });

  it("infra-failed: a retry the policy allows, else nothing but a stop", () => {
    const d = new Driver(run);
    const n = d.attempt(p, "timeout");
    expect(afterInfraFailure(d.state, review(p, n, "infra-failed"), ctx)).toEqual({
      events: [
        {
          type: "infra.retry-scheduled",
          data: {
            packet_id: "build",
            attempt: 1,
            reason: "timeout: retry 1",
            retry: 1,
            delay_ms: 30_000,
            max_retries: 3,
          },
        },
      ],
      copies: [],
      next: { kind: "infra-retry", retry: 1, delay_ms: 30_000, not_before: "2026-05-01T12:00:30.000Z" },
    });
    const auth = review(p, n, "infra-failed", { outcome: "auth-failed" });
    const stop = afterInfraFailure(d.state, auth, ctx);
    expect(stop.events).toEqual([]);
    expect(stop.next).toEqual({
      kind: "infra-stop",
      reason:
        "build: auth-failed is not retried automatically: fix the backend (login, installation), then run again",
    });
    (d.state.packets.build as PacketState).infra_retries = 3;
    expect(afterInfraFailure(d.state, review(p, n, "infra-failed"), ctx).next.kind).toBe("infra-stop");
  });
});
