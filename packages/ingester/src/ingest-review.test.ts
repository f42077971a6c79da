import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact } from "@dwm/core";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { DEFAULT_INFRA_RETRY_POLICY, nextInfraRetry } from "./infra-retry.js";
import { ingestReview, needsHumanGate } from "./ingest-review.js";
import { registerHandoffs } from "./register-handoffs.js";
import { Driver, HUMAN_GATE, makeRun, packet, RUN_ID, review } from "./test-support/run.js";

const NOW = "2026-05-01T12:00:00.000Z";

function setup(p = packet("build")) {
  const run = makeRun([p]);
  return { p, run, d: new Driver(run) };
}

describe("ingestReview", () => {
  it("approved: reviewed, handoffs registered, completed with the attempt's branch", () => {
    const { p, run, d } = setup();
    const n = d.attempt(p);
    const r = review(p, n, "approved", {
      handoffs: [
        {
          artifact: "report.json",
          path: "outputs/report.json",
          digest: digestBytes('{"items":[]}'),
          bytes: 12,
        },
      ],
    });
    const out = ingestReview(d.state, r, { packet: p, run, now: NOW });
    expect(out.events).toEqual([
      {
        type: "packet.reviewed",
        data: {
          packet_id: "build",
          attempt: 1,
          verdict: "approved",
          review_digest: digest(r),
          files: [{ path: "reviews/build/1.json", digest: digestBytes(renderArtifact(r)) }],
        },
      },
      {
        type: "handoff.registered",
        data: {
          artifact: "report.json",
          from_packet: "build",
          digest: digestBytes('{"items":[]}'),
          files: [{ path: "handoffs/report.json", digest: digestBytes('{"items":[]}') }],
        },
      },
      {
        type: "packet.completed",
        data: { packet_id: "build", attempt: 1, branch: `dwm/${RUN_ID}/build/1`, commit: "c".repeat(40) },
      },
    ]);
    expect(out.copies).toEqual([
      {
        artifact: "report.json",
        from: "attempts/build/1/outputs/report.json",
        to: "handoffs/report.json",
        digest: digestBytes('{"items":[]}'),
      },
    ]);
    expect(out.next).toEqual({ kind: "completed" });
    d.apply(...out.events);
    expect(d.state.packets.build).toMatchObject({
      state: "completed",
      branch: `dwm/${RUN_ID}/build/1`,
      commit: "c".repeat(40),
    });
    expect(d.state.handoffs["report.json"]?.from_packet).toBe("build");
  });

  it("repairs until the work is approved; each repair is a new attempt whose checks run again", () => {
    const { p, run, d } = setup(packet("build", { budget: { max_retries: 2 } }));
    const nexts: string[] = [];
    for (const verdict of ["changes-requested", "changes-requested", "approved"] as const) {
      const n = d.attempt(p);
      const out = ingestReview(d.state, review(p, n, verdict), { packet: p, run, now: NOW });
      nexts.push(JSON.stringify(out.next));
      d.apply(...out.events);
    }
    expect(nexts).toEqual([
      JSON.stringify({ kind: "repair", next_attempt: 2 }),
      JSON.stringify({ kind: "repair", next_attempt: 3 }),
      JSON.stringify({ kind: "completed" }),
    ]);
    expect(d.state.packets.build).toMatchObject({ state: "completed", attempts: 3, repairs: 2 });
  });

  it("fails the packet once budget.max_retries repairs are spent", () => {
    const { p, run, d } = setup(packet("build", { budget: { max_retries: 1 } }));
    let n = d.attempt(p);
    let out = ingestReview(d.state, review(p, n, "changes-requested"), { packet: p, run, now: NOW });
    expect(out.events.map((e) => e.type)).toEqual(["packet.reviewed", "repair.scheduled"]);
    expect(out.events[1]?.data).toEqual({
      packet_id: "build",
      next_attempt: 2,
      reason: "repair 1 of 1: REVIEW_VALIDATION_FAILED",
    });
    d.apply(...out.events);
    n = d.attempt(p);
    out = ingestReview(d.state, review(p, n, "changes-requested"), { packet: p, run, now: NOW });
    const reason = "changes requested after 1 repair (budget.max_retries 1): REVIEW_VALIDATION_FAILED";
    expect(out.events.slice(1)).toEqual([{ type: "packet.failed", data: { packet_id: "build", reason } }]);
    expect(out.next).toEqual({ kind: "failed", reason });
    d.apply(...out.events);
    expect(d.state.packets.build).toMatchObject({ state: "failed", repairs: 1, reason });
  });

  it("a budget of 0 fails at the first changes-requested", () => {
    const { p, run, d } = setup(packet("build", { budget: { max_retries: 0 } }));
    const n = d.attempt(p);
    const out = ingestReview(d.state, review(p, n, "changes-requested"), { packet: p, run, now: NOW });
    expect(out.next.kind).toBe("failed");
  });

  it("infra failures are retried with backoff and never spend the repair budget", () => {
    const { p, run, d } = setup(packet("build", { budget: { max_retries: 1 } }));
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const n = d.attempt(p, "timeout");
      const out = ingestReview(d.state, review(p, n, "infra-failed"), { packet: p, run, now: NOW });
      seen.push(out.next);
      d.apply(...out.events);
    }
    expect(seen).toEqual([
      { kind: "infra-retry", retry: 1, delay_ms: 30_000, not_before: "2026-05-01T12:00:30.000Z" },
      { kind: "infra-retry", retry: 2, delay_ms: 120_000, not_before: "2026-05-01T12:02:00.000Z" },
      { kind: "infra-retry", retry: 3, delay_ms: 600_000, not_before: "2026-05-01T12:10:00.000Z" },
    ]);
    expect(d.state.packets.build).toMatchObject({
      state: "pending",
      repairs: 0,
      infra_retries: 3,
      last_verdict: "infra-failed",
    });
    // The fourth stops the run for the operator: the packet stays reviewed infra-failed, not failed.
    let n = d.attempt(p, "timeout");
    const stop = ingestReview(d.state, review(p, n, "infra-failed"), { packet: p, run, now: NOW });
    expect(stop.events.map((e) => e.type)).toEqual(["packet.reviewed"]);
    expect(stop.next).toEqual({
      kind: "infra-stop",
      reason: "build: timeout: 3 retries already spent (policy max_retries 3)",
    });
    d.apply(...stop.events);
    expect(d.state.packets.build?.state).toBe("reviewed");
    // The repair budget is whole: a later changes-requested still gets its repair.
    d.apply({
      type: "infra.retry-scheduled",
      data: { packet_id: "build", attempt: n, reason: "operator retried", retry: 4 },
    });
    n = d.attempt(p);
    const out = ingestReview(d.state, review(p, n, "changes-requested"), { packet: p, run, now: NOW });
    expect(out.next).toEqual({ kind: "repair", next_attempt: 6 });
  });

  it("auth and missing backends are not retried automatically", () => {
    const { p, run, d } = setup();
    const n = d.attempt(p, "auth-failed");
    const out = ingestReview(d.state, review(p, n, "infra-failed", { outcome: "auth-failed" }), {
      packet: p,
      run,
      now: NOW,
    });
    expect(out.next).toEqual({
      kind: "infra-stop",
      reason:
        "build: auth-failed is not retried automatically: fix the backend (login, installation), then run again",
    });
  });

  it("needs-human opens a run-time gate holding the packet, derived from the review", () => {
    const { p, run, d } = setup();
    const n = d.attempt(p);
    const r = review(p, n, "needs-human");
    const out = ingestReview(d.state, r, { packet: p, run, now: NOW });
    const gate = needsHumanGate(r);
    expect(gate).toMatchObject({
      gate_id: "needs-human/build/1",
      category: "human-review",
      source: "runtime",
      packets: ["build"],
    });
    expect(out.events[1]).toEqual({
      type: "gate.opened",
      data: {
        gate_id: "needs-human/build/1",
        gate_digest: digest(gate),
        packets: ["build"],
        reason: gate.trigger,
      },
    });
    expect(out.next).toEqual({ kind: "gate-opened", gate_id: "needs-human/build/1" });
    d.apply(...out.events);
    expect(d.state.packets.build?.state).toBe("needs-human");
    expect(d.state.gates["needs-human/build/1"]).toMatchObject({ state: "open", packets: ["build"] });
  });

  it("an approved human-gate phase opens its completion gate instead of completing", () => {
    const hg = packet("human_gate", { human_gate: true, completion_gate: "human-gate" });
    const { run, d } = setup(hg);
    const n = d.attempt(hg);
    const out = ingestReview(d.state, review(hg, n, "approved"), { packet: hg, run, now: NOW });
    expect(out.events.slice(1)).toEqual([
      {
        type: "gate.opened",
        data: {
          gate_id: "human-gate",
          gate_digest: digest(HUMAN_GATE),
          packets: ["human_gate"],
          reason: "human_gate passed review (attempt 1); a human-gate phase completes only by approval",
        },
      },
    ]);
    d.apply(...out.events);
    expect(d.state.packets.human_gate?.state).toBe("reviewed");
    expect(d.state.gates["human-gate"]?.state).toBe("open");
  });

  it("refuses a review of another run, of an old attempt, or of another packet version", () => {
    const { p, run, d } = setup();
    const n = d.attempt(p);
    expect(() =>
      ingestReview(d.state, review(p, n, "approved", { run_id: "x-0123456789ab" }), {
        packet: p,
        run,
        now: NOW,
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_INGEST_FOREIGN_RUN" }));
    expect(() => ingestReview(d.state, review(p, n + 1, "approved"), { packet: p, run, now: NOW })).toThrow(
      expect.objectContaining({ code: "ERR_INGEST_STALE_REVIEW" }),
    );
    expect(() =>
      ingestReview(d.state, review(p, n, "approved"), {
        packet: { ...p, instruction: "other" },
        run,
        now: NOW,
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_INGEST_PACKET_MISMATCH" }));
    d.apply(...ingestReview(d.state, review(p, n, "approved"), { packet: p, run, now: NOW }).events);
    expect(() => ingestReview(d.state, review(p, n, "approved"), { packet: p, run, now: NOW })).toThrow(
      expect.objectContaining({ code: "ERR_INGEST_STALE_REVIEW" }),
    );
  });
});

describe("nextInfraRetry", () => {
  it("repeats the last delay and honours a custom policy", () => {
    const { p, d } = setup();
    d.attempt(p, "crashed");
    const policy = { max_retries: 5, delays_ms: [1000, 5000], retry_outcomes: ["crashed"] as const };
    expect(nextInfraRetry(d.state, "build", policy, NOW)).toEqual({
      retry: true,
      retry_number: 1,
      delay_ms: 1000,
      not_before: "2026-05-01T12:00:01.000Z",
    });
    d.state.packets.build = {
      ...(d.state.packets.build as NonNullable<(typeof d.state.packets)["build"]>),
      infra_retries: 3,
    };
    expect(nextInfraRetry(d.state, "build", policy, NOW)).toMatchObject({
      retry: true,
      retry_number: 4,
      delay_ms: 5000,
    });
    expect(nextInfraRetry(d.state, "build", DEFAULT_INFRA_RETRY_POLICY, NOW, "crashed")).toMatchObject({
      retry: false,
    });
    expect(nextInfraRetry(d.state, "nope", policy, NOW)).toEqual({
      retry: false,
      reason: `run ${RUN_ID} has no packet nope`,
    });
  });

  it("waits at least the delay a rate-limited endpoint advertised", () => {
    const { p, d } = setup();
    d.attempt(p, "rate-limited");
    const policy = { max_retries: 3, delays_ms: [1000], retry_outcomes: ["rate-limited"] as const };
    expect(nextInfraRetry(d.state, "build", policy, NOW, "rate-limited", 90_000)).toMatchObject({
      retry: true,
      delay_ms: 90_000,
      not_before: "2026-05-01T12:01:30.000Z",
    });
    expect(nextInfraRetry(d.state, "build", policy, NOW, "rate-limited", 10)).toMatchObject({
      delay_ms: 1000,
    });
    expect(nextInfraRetry(d.state, "build", policy, NOW, "rate-limited", null)).toMatchObject({
      delay_ms: 1000,
    });
  });
});

describe("registerHandoffs", () => {
  it("copies digest-checked files into handoffs/ and refuses a changed source", () => {
    const tmp = makeTempDir();
    try {
      const src = path.join(tmp.path, "attempts/build/1/outputs/report.json");
      fs.mkdirSync(path.dirname(src), { recursive: true });
      fs.writeFileSync(src, "{}\n");
      const copy = {
        artifact: "report.json",
        from: "attempts/build/1/outputs/report.json",
        to: "handoffs/report.json",
        digest: digestBytes("{}\n"),
      };
      registerHandoffs(tmp.path, [copy]);
      expect(fs.readFileSync(path.join(tmp.path, "handoffs/report.json"), "utf8")).toBe("{}\n");
      fs.writeFileSync(src, "{ }\n");
      expect(() => registerHandoffs(tmp.path, [copy])).toThrow(
        expect.objectContaining({ code: "ERR_INGEST_HANDOFF_DIGEST", exitCode: 3 }),
      );
      expect(() => registerHandoffs(tmp.path, [{ ...copy, to: "../escape.json" }])).toThrow(
        expect.objectContaining({ code: "ERR_OUT_PATH_UNSAFE" }),
      );
    } finally {
      tmp.cleanup();
    }
  });
});
