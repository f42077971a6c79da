import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, makePacket, withInvocation } from "../../test-support/builders.js";
import { EvidenceReader } from "../evidence.js";
import { checkOutcome } from "./outcome.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-outcome-");
});
afterEach(() => tmp.cleanup());

describe("checkOutcome", () => {
  it("an infrastructure outcome ends the review with an infra finding, whatever the exit code", () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet).file("workers/1-builder/stderr", "killed\n");
    const attempt = b.build({
      outcome: "timeout",
      exit_code: 0,
      invocations: withInvocation({ outcome: "timeout" }),
    });
    const j = checkOutcome(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(j.ends).toBe(true);
    expect(j.checks).toEqual([
      { id: "outcome", kind: "outcome", status: "fail", detail: "infrastructure failure: timeout" },
    ]);
    expect(j.findings.map((f) => [f.code, f.effect, f.message, f.evidence.map((e) => e.excerpt)])).toEqual([
      [
        "REVIEW_INFRA_FAILURE",
        "infra",
        "the attempt ended in an infrastructure failure (timeout); this is not a verdict on the work",
        ["killed"],
      ],
    ]);
  });

  it("a dry run ends the review: a human must look", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build({ dry_run: true });
    const j = checkOutcome(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect([j.ends, j.findings.map((f) => [f.code, f.effect])]).toEqual([
      true,
      [["REVIEW_DRY_RUN", "human"]],
    ]);
  });

  it("a failed task asks for a repair, naming the last invocation that ran, not one that did not", () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet).file("workers/1-builder/stderr", "boom\n");
    const invocations = [
      ...withInvocation({ worker_id: "builder", outcome: "task-failed", exit_code: 2 }),
      ...withInvocation({ worker_id: "checker", outcome: "not-run", stdout: null, stderr: null }),
    ];
    const attempt = b.build({ outcome: "task-failed", exit_code: 2, signal: "SIGTERM", invocations });
    const j = checkOutcome(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(j.ends).toBe(false);
    expect(j.findings.map((f) => [f.code, f.effect, f.message])).toEqual([
      ["REVIEW_TASK_FAILED", "repair", "the worker builder failed (exit code 2, signal SIGTERM)"],
    ]);
    expect(j.findings[0]?.evidence.map((e) => e.excerpt)).toEqual(["boom", "built"]);
  });

  it("ok passes; only a command phase counts as a falsifier here", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build();
    const j = checkOutcome(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect([j.ends, j.checks, j.findings, j.falsifiers]).toEqual([
      false,
      [{ id: "outcome", kind: "outcome", status: "pass", detail: "exit code 0" }],
      [],
      0,
    ]);
    const cmd = makePacket({ command: { argv: ["npm", "test"] } });
    const c = new AttemptBuilder(tmp.path, cmd).build();
    expect(checkOutcome(cmd, c, new EvidenceReader(tmp.path, c)).falsifiers).toBe(1);
  });
});
