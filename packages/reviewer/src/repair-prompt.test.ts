import { FakeClock, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, check, makePacket } from "../src/test-support/builders.js";
import { renderRepairPrompt, renderReworkPrompt } from "./repair-prompt.js";
import { reviewAttempt } from "./review-attempt.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-repair-");
});
afterEach(() => tmp.cleanup());

describe("renderRepairPrompt", () => {
  it("is the packet prompt plus the findings, their evidence, the diff summary and the failing commands", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const good = b.good();
    b.file("checks/validation-1.stdout", "");
    b.file("checks/validation-1.stderr", "items: expected at least 3, got 2\n");
    const attempt = b.build({ ...good, checks: [check({ exit_code: 1, passed: false })] });
    const review = await reviewAttempt(packet, attempt, { attemptDir: tmp.path, clock: new FakeClock() });
    expect(review.verdict).toBe("changes-requested");
    const prompt = renderRepairPrompt("# Build\n\nDo the build.\n\n", review, attempt);
    expect(prompt).toBe(
      [
        "# Build",
        "",
        "Do the build.",
        "",
        "## Repair",
        "",
        "Attempt 1 of this packet was reviewed and changes were requested. This is attempt 2.",
        "Fix every finding below and keep the parts of the work that were right. Every check runs again on this attempt.",
        "Do not delete, skip or weaken tests, and do not edit the scripts that validate or verify this packet: the review flags that.",
        "",
        "### Findings",
        "",
        "1. `REVIEW_VALIDATION_FAILED` validation of report.json: `node scripts/check-report.mjs report.json` exited 1",
        "   Evidence: checks/validation-1.stderr",
        "",
        "```",
        "items: expected at least 3, got 2",
        "```",
        "",
        "### What attempt 1 changed",
        "",
        "- added `src/thing.ts` (+2 -0)",
        "",
        "### Commands that failed",
        "",
        "- validation `node scripts/check-report.mjs report.json`: exit 1",
        "",
      ].join("\n"),
    );
    // Deterministic: the same inputs give the same bytes.
    expect(renderRepairPrompt("# Build\n\nDo the build.\n\n", review, attempt)).toBe(prompt);
  });

  it("fences evidence that itself contains backticks with a longer fence", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const good = b.good();
    b.file("checks/validation-1.stdout", "");
    b.file("checks/validation-1.stderr", "```\nnested\n```\n");
    const attempt = b.build({ ...good, checks: [check({ exit_code: 1, passed: false })] });
    const review = await reviewAttempt(packet, attempt, { attemptDir: tmp.path, clock: new FakeClock() });
    expect(renderRepairPrompt("p", review, attempt)).toContain("````\n```\nnested\n```\n````");
  });
  it("names each offending item of a json-list handoff and the field it lacks", async () => {
    const packet = makePacket({
      outputs: [{ artifact: "routes.json", format: "json-list", required_fields: ["route", "method"] }],
    });
    const b = new AttemptBuilder(tmp.path, packet);
    b.file("diff.patch", "");
    const list = '[{"route":"/a","method":"GET"},{"route":"/b"}]';
    const attempt = b.build({
      outputs: [b.output("routes.json", list)],
      diff: "diff.patch",
      changed_files: [],
    });
    const review = await reviewAttempt(packet, attempt, { attemptDir: tmp.path, clock: new FakeClock() });
    expect(review.verdict).toBe("changes-requested");
    expect(renderRepairPrompt("p", review, attempt).split("### Findings\n\n")[1]).toBe(
      [
        "1. `REVIEW_HANDOFF_FIELDS_MISSING` handoff routes.json lacks required field(s) method",
        "   Evidence: outputs/routes.json",
        "",
        "```",
        "item [1] lacks method:",
        '{"route":"/b"}',
        "```",
        "",
      ].join("\n"),
    );
  });
});

describe("renderReworkPrompt", () => {
  it("adds the operator's reason for rejecting the gate", () => {
    expect(
      renderReworkPrompt("# P\n", { gate_id: "human-gate", reason: "the summary misses the API changes" }),
    ).toBe(
      "# P\n\n## Rework\n\nAn operator rejected gate `human-gate` and sent this packet back for rework. Their reason:\n\n```\nthe summary misses the API changes\n```\n\nAddress the reason; the packet's checks run again before the gate is asked again.\n",
    );
  });
});
