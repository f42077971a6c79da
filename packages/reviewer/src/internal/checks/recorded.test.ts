import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, check, makePacket } from "../../test-support/builders.js";
import { EvidenceReader } from "../evidence.js";
import { checkRecordedChecks } from "./recorded.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-recorded-");
});
afterEach(() => tmp.cleanup());

describe("checkRecordedChecks", () => {
  it("each recorded check is a falsifier; a failed one asks for a repair, saying how it failed, with its output", () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet)
      .file("checks/v.stdout", "")
      .file("checks/v.stderr", "expected 2, got 3\n");
    const out = { stdout: "checks/v.stdout", stderr: "checks/v.stderr" };
    const attempt = b.build({
      checks: [
        check({ ...out, id: "validation-1" }),
        check({ ...out, id: "validation-2", passed: false, exit_code: 1 }),
        check({
          ...out,
          id: "verification-1",
          kind: "verification",
          source: "claim",
          passed: false,
          timed_out: true,
          exit_code: null,
        }),
        check({
          ...out,
          id: "verification-2",
          kind: "verification",
          source: "claim",
          passed: false,
          signal: "SIGKILL",
          exit_code: null,
        }),
      ],
    });
    const j = checkRecordedChecks(attempt, new EvidenceReader(tmp.path, attempt));
    expect(j.falsifiers).toBe(4);
    expect(j.checks.map((c) => `${c.id}=${c.status}: ${c.detail}`)).toEqual([
      "validation:validation-1=pass: node scripts/check-report.mjs report.json exited 0",
      "validation:validation-2=fail: node scripts/check-report.mjs report.json exited 1",
      "verification:verification-1=fail: node scripts/check-report.mjs report.json timed out",
      "verification:verification-2=fail: node scripts/check-report.mjs report.json was killed by SIGKILL",
    ]);
    expect(j.findings.map((f) => [f.code, f.effect, f.evidence.map((e) => e.excerpt)])).toEqual([
      ["REVIEW_VALIDATION_FAILED", "repair", ["expected 2, got 3"]],
      ["REVIEW_VERIFICATION_FAILED", "repair", ["expected 2, got 3"]],
      ["REVIEW_VERIFICATION_FAILED", "repair", ["expected 2, got 3"]],
    ]);
  });

  it("no recorded check: nothing to judge, no falsifier", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build();
    expect(checkRecordedChecks(attempt, new EvidenceReader(tmp.path, attempt))).toEqual({
      checks: [],
      findings: [],
      falsifiers: 0,
    });
  });
});
