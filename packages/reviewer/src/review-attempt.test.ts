import fs from "node:fs";
import path from "node:path";
import { digest } from "@dwm/core";
import type { Attempt, Packet, Review } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, check, makePacket, withInvocation, worker } from "../src/test-support/builders.js";
import { INFRA_OUTCOMES, type ReviewOptions, reviewAttempt } from "./review-attempt.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-");
});
afterEach(() => tmp.cleanup());

function opts(extra: Partial<ReviewOptions> = {}): ReviewOptions {
  return { attemptDir: tmp.path, clock: new FakeClock("2026-02-03T04:05:06.000Z"), ...extra };
}

async function review(packet: Packet, attempt: Attempt, extra: Partial<ReviewOptions> = {}): Promise<Review> {
  const r = await reviewAttempt(packet, attempt, opts(extra));
  const v = validateSchema("review", r);
  expect(v.problems).toEqual([]);
  return r;
}

const codes = (r: Review) => r.findings.map((f) => f.code);

function diffWith(file: string, body: string, header = ""): string {
  return `diff --git a/${file} b/${file}\n${header}--- a/${file}\n+++ b/${file}\n@@ -1,3 +1,3 @@\n${body}`;
}

describe("reviewAttempt", () => {
  it("approves an attempt whose evidence passes every check, and lists its handoffs", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    const r = await review(packet, attempt);
    expect(r.verdict).toBe("approved");
    expect(r.findings).toEqual([]);
    expect(r.attempt_digest).toBe(digest(attempt));
    expect(r.packet_digest).toBe(digest(packet));
    expect(r.reviewed_at).toBe("2026-02-03T04:05:06.000Z");
    expect(r.handoffs).toEqual([
      { artifact: "report.json", path: "outputs/report.json", digest: attempt.outputs[0]?.digest, bytes: 16 },
    ]);
    expect(r.diff).toEqual({
      files: [{ path: "src/thing.ts", status: "added", added: 2, removed: 0 }],
      added: 2,
      removed: 0,
    });
    expect(r.branch).toBe(attempt.branch);
    expect(r.checks.map((c) => `${c.id}=${c.status}`)).toEqual([
      "outcome=pass",
      "output:report.json=pass",
      "handoff:report.json=pass",
      "validation:validation-1=pass",
      "permissions=pass",
      "tests=pass",
      "falsifiable=pass",
    ]);
  });

  it.each(INFRA_OUTCOMES.map((o) => [o]))(
    "%s is infra-failed, never a verdict on the work",
    async (outcome) => {
      const packet = makePacket();
      const b = new AttemptBuilder(tmp.path, packet);
      b.file("workers/1-builder/stderr", "429 Too Many Requests\n");
      const attempt = b.build({
        outcome,
        exit_code: null,
        invocations: withInvocation({ outcome, exit_code: null, detail: "the backend said so" }),
      });
      const r = await review(packet, attempt);
      expect(r.verdict).toBe("infra-failed");
      expect(codes(r)).toEqual(["REVIEW_INFRA_FAILURE"]);
      expect(r.findings[0]?.effect).toBe("infra");
      expect(r.findings[0]?.message).toContain("the backend said so");
      expect(r.findings[0]?.evidence).toEqual([
        { path: "workers/1-builder/stderr", digest: expect.any(String), excerpt: "429 Too Many Requests" },
      ]);
      expect(r.handoffs).toEqual([]);
    },
  );

  it("a failed task asks for changes, with the tail of the worker's output as evidence", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    b.file("workers/1-builder/stderr", `${Array.from({ length: 60 }, (_, i) => `line ${i}`).join("\n")}\n`);
    const attempt = b.build({
      outcome: "task-failed",
      exit_code: 2,
      invocations: withInvocation({ outcome: "task-failed", exit_code: 2 }),
    });
    const r = await review(packet, attempt);
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toContain("REVIEW_TASK_FAILED");
    const ex = r.findings[0]?.evidence[0]?.excerpt ?? "";
    expect(ex.startsWith("…\nline 20\n")).toBe(true);
    expect(ex.endsWith("line 59")).toBe(true);
  });

  it("a missing and an empty declared output ask for changes", async () => {
    const packet = makePacket({
      outputs: [{ artifact: "report.json" }, { artifact: "notes.md" }],
    });
    const b = new AttemptBuilder(tmp.path, packet);
    const empty = b.output("notes.md", "  \n");
    const attempt = b.build({
      outputs: [
        { artifact: "report.json", checked: true, found: false, path: null, digest: null, bytes: null },
        empty,
      ],
      findings: [
        {
          code: "output-missing",
          message: "declared output report.json was not produced",
          worker_id: null,
          paths: ["report.json"],
        },
      ],
    });
    const r = await review(packet, attempt);
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toEqual(["REVIEW_MISSING_OUTPUT", "REVIEW_EMPTY_OUTPUT"]);
  });

  it("a handoff that is not valid JSON, or lacks a required field, asks for changes", async () => {
    const packet = makePacket();
    let b = new AttemptBuilder(tmp.path, packet);
    let attempt = b.good();
    let out = b.output("report.json", "{not json");
    let r = await review(packet, b.build({ ...attempt, outputs: [out] }));
    expect(codes(r)).toEqual(["REVIEW_HANDOFF_FORMAT"]);
    expect(r.handoffs).toEqual([]);

    b = new AttemptBuilder(tmp.path, packet);
    attempt = b.good();
    out = b.output("report.json", '{"other":1}');
    r = await review(packet, b.build({ ...attempt, outputs: [out] }));
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toEqual(["REVIEW_HANDOFF_FIELDS_MISSING"]);
    expect(r.findings[0]?.message).toContain("items");
  });

  it("markdown handoffs carry their required fields as headings or labels; arrays on every item", async () => {
    const packet = makePacket({
      outputs: [
        { artifact: "notes.md", format: "markdown", required_fields: ["Summary", "Risks"] },
        { artifact: "list.json", format: "json", required_fields: ["id", "meta.owner"] },
      ],
    });
    const b = new AttemptBuilder(tmp.path, packet);
    const md = b.output("notes.md", "# Notes\n\n## Summary\n\nfine\n\nRisks: none\n");
    const list = b.output("list.json", '[{"id":1,"meta":{"owner":"a"}},{"id":2,"meta":{}}]');
    const r = await review(packet, b.good({ outputs: [md, list], checks: [] }));
    expect(codes(r)).toEqual(["REVIEW_HANDOFF_FIELDS_MISSING"]);
    expect(r.findings[0]?.message).toBe("handoff list.json lacks required field(s) meta.owner");
    expect(r.handoffs.map((h) => h.artifact)).toEqual(["notes.md"]);
  });

  it("a failing validation command asks for changes with its output; one never run needs a human", async () => {
    const packet = makePacket();
    let b = new AttemptBuilder(tmp.path, packet);
    let attempt = b.good();
    b.file("checks/validation-1.stderr", "report.json: items must not be empty\n");
    attempt = b.build({ ...attempt, checks: [check({ exit_code: 1, passed: false })] });
    let r = await review(packet, attempt);
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toEqual(["REVIEW_VALIDATION_FAILED"]);
    expect(r.findings[0]?.evidence.map((e) => e.excerpt)).toEqual([
      "ok",
      "report.json: items must not be empty",
    ]);

    b = new AttemptBuilder(tmp.path, packet);
    r = await review(packet, b.good({ checks: [] }));
    expect(r.verdict).toBe("needs-human");
    expect(codes(r)).toEqual(["REVIEW_CHECK_NOT_RUN"]);
  });

  it("a failing or timed-out verification command asks for changes", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    b.file("checks/verification-1.stdout", "");
    b.file("checks/verification-1.stderr", "");
    const attempt = b.good();
    const r = await review(
      packet,
      b.build({
        ...attempt,
        checks: [
          check(),
          check({
            id: "verification-1",
            kind: "verification",
            source: "the thing works",
            command: "npm test",
            argv: ["npm", "test"],
            exit_code: null,
            timed_out: true,
            passed: false,
            stdout: "checks/verification-1.stdout",
            stderr: "checks/verification-1.stderr",
          }),
        ],
      }),
    );
    expect(r.verdict).toBe("changes-requested");
    expect(r.findings.map((f) => [f.code, f.message])).toEqual([
      ["REVIEW_VERIFICATION_FAILED", "verification of the thing works: `npm test` timed out"],
    ]);
  });

  it("a read-only packet that changed files, an ownership violation, a secret in the work", async () => {
    const ro = makePacket({
      workers: [worker({ tool_permissions: { ...worker().tool_permissions, write: false } })],
    });
    let b = new AttemptBuilder(tmp.path, ro);
    let r = await review(ro, b.good());
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toEqual(["REVIEW_READ_ONLY_VIOLATION"]);

    // Its declared output is its own work, as the executor enforces it: not a violation.
    b = new AttemptBuilder(tmp.path, ro);
    r = await review(
      ro,
      b.good({ changed_files: [{ path: "report.json", status: "added", workers: ["builder"] }] }),
    );
    expect(codes(r)).not.toContain("REVIEW_READ_ONLY_VIOLATION");
    expect(r.checks.find((c) => c.id === "permissions")?.status).toBe("pass");

    const packet = makePacket();
    b = new AttemptBuilder(tmp.path, packet);
    r = await review(
      packet,
      b.good({
        findings: [
          {
            code: "ownership-violation",
            message: "builder changed files outside its ownership",
            worker_id: "builder",
            paths: ["docs/x.md"],
          },
        ],
      }),
    );
    expect(codes(r)).toEqual(["REVIEW_OWNERSHIP_VIOLATION"]);
    expect(r.verdict).toBe("changes-requested");

    b = new AttemptBuilder(tmp.path, packet);
    r = await review(
      packet,
      b.good({
        findings: [
          {
            code: "secret-in-work",
            message: "a secret value appears in the work",
            worker_id: null,
            paths: ["src/thing.ts"],
          },
        ],
      }),
    );
    expect(r.verdict).toBe("needs-human");
    expect(codes(r)).toEqual(["REVIEW_SECRET_IN_WORK"]);
  });

  it("a dry run needs a human: no worker ran", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const r = await review(
      packet,
      b.build({
        dry_run: true,
        exit_code: null,
        invocations: withInvocation({ outcome: "not-run", backend: "dry-run" }),
      }),
    );
    expect(r.verdict).toBe("needs-human");
    expect(codes(r)).toEqual(["REVIEW_DRY_RUN"]);
  });

  it("never approves when nothing could falsify the result, unless told to", async () => {
    const packet = makePacket({ outputs: [{ artifact: "a short description of the inventory" }] });
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.build({
      outputs: [
        {
          artifact: "a short description of the inventory",
          checked: false,
          found: false,
          path: null,
          digest: null,
          bytes: null,
        },
      ],
    });
    let r = await review(packet, attempt);
    expect(r.verdict).toBe("needs-human");
    expect(codes(r)).toEqual(["REVIEW_UNVERIFIABLE"]);
    r = await review(packet, attempt, { unverifiable: "approve" });
    expect(r.verdict).toBe("approved");
    // A command phase is its own falsifier: its exit code is the check.
    const cmd = makePacket({ outputs: [], command: { argv: ["npm", "test"] } });
    const c = new AttemptBuilder(tmp.path, cmd);
    r = await review(cmd, c.build({ changed_files: [] }));
    expect(r.verdict).toBe("approved");
  });
});

describe("reviewAttempt: checks against agent cheats", () => {
  async function withDiff(patch: string, packet = makePacket()): Promise<Review> {
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    b.file("diff.patch", patch);
    return review(packet, b.build(attempt));
  }

  it("a deleted test file", async () => {
    const r = await withDiff(
      "diff --git a/test/thing.test.ts b/test/thing.test.ts\ndeleted file mode 100644\n--- a/test/thing.test.ts\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-import x from 'y';\n-expect(thing).toBe(1);\n",
    );
    expect(r.verdict).toBe("changes-requested");
    expect(codes(r)).toEqual(["REVIEW_TEST_DELETED"]);
    expect(r.findings[0]?.evidence[0]).toEqual({
      path: "diff.patch",
      digest: expect.any(String),
      excerpt: "expect(thing).toBe(1);",
    });
    expect(r.diff?.files).toEqual([{ path: "test/thing.test.ts", status: "deleted", added: 0, removed: 2 }]);
  });

  it("removed assertions outnumbering added ones", async () => {
    const r = await withDiff(
      diffWith(
        "tests/test_thing.py",
        "-    assert thing() == 1\n-    assert other() == 2\n+    assert thing()\n",
      ),
    );
    expect(codes(r)).toEqual(["REVIEW_ASSERTIONS_REMOVED"]);
    expect(r.findings[0]?.message).toBe("tests/test_thing.py: 2 assertion line(s) removed, 1 added");
  });

  it("rewritten assertions (as many added as removed) are not a finding", async () => {
    const r = await withDiff(diffWith("src/a.test.ts", "-  expect(a).toBe(1);\n+  expect(a).toBe(2);\n"));
    expect(r.verdict).toBe("approved");
  });

  it.each([
    ["it.skip(", "src/a.test.ts", "+  it.skip('works', () => {});\n"],
    ["describe.only(", "src/a.spec.js", "+describe.only('x', () => {});\n"],
    ["xit(", "test/a.js", "+xit('works', () => {});\n"],
    ["xdescribe(", "__tests__/a.js", "+xdescribe('works', () => {});\n"],
    ["@pytest.mark.skip", "tests/test_a.py", "+@pytest.mark.skip(reason='flaky')\n"],
  ])("an added %s marker", async (_name, file, body) => {
    const r = await withDiff(diffWith(file, body));
    expect(codes(r)).toEqual(["REVIEW_TEST_SKIP_ADDED"]);
  });

  it("a skip marker outside a test file is not a finding", async () => {
    const r = await withDiff(diffWith("src/stream.ts", "+  it.skip(3);\n"));
    expect(r.verdict).toBe("approved");
  });

  it("exact expectations replaced by loose ones", async () => {
    const r = await withDiff(
      diffWith("src/a.test.ts", "-  expect(total).toEqual(42);\n+  expect(total).toBeDefined();\n"),
    );
    expect(codes(r)).toEqual(["REVIEW_ASSERTION_LOOSENED"]);
  });

  it("an edit to the packet's own validation script, or to the test runner's config", async () => {
    let r = await withDiff(diffWith("scripts/check-report.mjs", "-process.exit(1)\n+process.exit(0)\n"));
    expect(codes(r)).toEqual(["REVIEW_CHECK_EDITED"]);
    expect(r.findings[0]?.evidence[0]?.excerpt).toBe("-process.exit(1)\n+process.exit(0)");
    r = await withDiff(diffWith("vitest.config.ts", "+  exclude: ['src/**'],\n"));
    expect(codes(r)).toEqual(["REVIEW_TEST_CONFIG_EDITED"]);
  });

  it("is no finding when the packet's ownership names exactly that path; a human judges a broader one", async () => {
    const patch = diffWith("tests/flaky.test.ts", "-  expect(a).toBe(1);\n");
    const exact = makePacket({ workers: [worker({ ownership: ["src/", "tests/flaky.test.ts"] })] });
    let r = await withDiff(patch, exact);
    expect(r.verdict).toBe("approved");
    expect(r.checks.find((c) => c.id === "tests:REVIEW_ASSERTIONS_REMOVED:tests/flaky.test.ts")?.status).toBe(
      "pass",
    );

    const broad = makePacket({ workers: [worker({ ownership: ["src/", "tests/**"] })] });
    r = await withDiff(patch, broad);
    expect(r.verdict).toBe("needs-human");
    expect(r.findings.map((f) => [f.code, f.effect])).toEqual([["REVIEW_ASSERTIONS_REMOVED", "human"]]);

    // A read-only worker's ownership never exempts anything.
    const ro = makePacket({
      workers: [
        worker(),
        worker({
          id: "reader",
          ownership: ["tests/flaky.test.ts"],
          tool_permissions: { ...worker().tool_permissions, write: false },
        }),
      ],
    });
    r = await withDiff(patch, ro);
    expect(r.findings.map((f) => [f.code, f.effect])).toEqual([["REVIEW_ASSERTIONS_REMOVED", "repair"]]);
  });
});

describe("reviewAttempt: DWM's control files", () => {
  const changed = (...paths: string[]) =>
    paths.map((p) => ({ path: p, status: "modified" as const, workers: ["builder"] }));

  it("a change to one needs a human, even when the packet owns everything, and the reviewer worker is not asked", async () => {
    const owner = makePacket({ workers: [worker({ ownership: ["**"] })] });
    for (const file of [
      "dwm.operators.json",
      "dwm.policy.json",
      "dwm.workers.json",
      "sub/dwm.workers.json",
      ".dwm/runs/r/approvals/g/1.json",
      "workflow.plan.json",
      "plans/release.json",
    ]) {
      const b = new AttemptBuilder(tmp.path, owner);
      let asked = 0;
      const r = await review(owner, b.good({ changed_files: changed("src/thing.ts", file) }), {
        controlFiles: ["plans/release.json"],
        runReviewerWorker: async () => {
          asked++;
          return { verdict: "approved", summary: "fine", transcript: null };
        },
      });
      expect([file, r.verdict], file).toEqual([file, "needs-human"]);
      expect(r.findings.map((f) => [f.code, f.effect, f.message])).toEqual([
        [
          "REVIEW_CONTROL_FILE_CHANGED",
          "human",
          `the attempt changed DWM's own control files: ${file} (modified)`,
        ],
      ]);
      expect(r.checks.find((c) => c.id === "permissions:control-files")?.status).toBe("fail");
      expect(asked).toBe(0);
    }
  });

  it("files that only look alike are not control files", async () => {
    const owner = makePacket({ workers: [worker({ ownership: ["**"] })] });
    const b = new AttemptBuilder(tmp.path, owner);
    const r = await review(
      owner,
      b.good({
        changed_files: changed("src/dwm.operators.json.md", "docs/dwm-policy.json", "plans/release.json"),
      }),
    );
    expect(codes(r)).toEqual([]);
    expect(r.verdict).toBe("approved");
  });
});

describe("reviewAttempt: the reviewer worker", () => {
  it("is asked to refute a result the checks passed; its verdict and transcript are evidence", async () => {
    const packet = makePacket();
    const prompts: string[] = [];
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    let r = await review(packet, attempt, {
      runReviewerWorker: async (p) => {
        prompts.push(p);
        return { verdict: "approved", transcript: "reviews/build/1.reviewer.jsonl", summary: "looks right" };
      },
    });
    expect(r.verdict).toBe("approved");
    expect(r.reviewer_worker).toEqual({
      verdict: "approved",
      transcript: "reviews/build/1.reviewer.jsonl",
      summary: "looks right",
    });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toContain("Try to refute the result");
    expect(prompts[0]).toContain("- added src/thing.ts (+2 -0)");

    r = await review(packet, attempt, {
      runReviewerWorker: async () => ({
        verdict: "changes-requested",
        transcript: null,
        summary: "thing is off by one",
      }),
    });
    expect(r.verdict).toBe("changes-requested");
    expect(r.findings.map((f) => [f.code, f.message])).toEqual([
      ["REVIEW_WORKER_REFUTED", "the reviewer worker refuted the result: thing is off by one"],
    ]);

    r = await review(packet, attempt, {
      runReviewerWorker: async () => {
        throw new Error("backend missing");
      },
    });
    expect(r.verdict).toBe("needs-human");
    expect(codes(r)).toEqual(["REVIEW_WORKER_UNAVAILABLE"]);
    expect(r.reviewer_worker?.verdict).toBe("unavailable");
  });

  it("is shown the change itself: the attempt's diff.patch, fenced", async () => {
    const packet = makePacket();
    const prompts: string[] = [];
    const attempt = new AttemptBuilder(tmp.path, packet).good();
    await review(packet, attempt, {
      runReviewerWorker: async (p) => {
        prompts.push(p);
        return { verdict: "approved", transcript: null };
      },
    });
    expect(prompts[0]).toContain(
      "## The change (diff.patch)\n\n```diff\ndiff --git a/src/thing.ts b/src/thing.ts\n",
    );
    expect(prompts[0]).toContain("+export const other = 2;\n```\n");
  });

  it("is not asked when the deterministic checks already failed", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    let called = 0;
    const r = await review(packet, b.good({ checks: [check({ passed: false, exit_code: 1 })] }), {
      runReviewerWorker: async () => {
        called++;
        return { verdict: "approved", transcript: null };
      },
    });
    expect(called).toBe(0);
    expect(r.reviewer_worker).toBeNull();
    expect(r.verdict).toBe("changes-requested");
  });
});

describe("reviewAttempt: refuses evidence it cannot trust", () => {
  it("a changed evidence file is an integrity error", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    fs.writeFileSync(path.join(tmp.path, "outputs/report.json"), '{"items":[1,2,3]}\n');
    await expect(reviewAttempt(packet, attempt, opts())).rejects.toMatchObject({
      code: "ERR_REVIEW_EVIDENCE_DIGEST",
      exitCode: 3,
    });
  });

  it("a deleted evidence file is an integrity error", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    fs.rmSync(path.join(tmp.path, "diff.patch"));
    await expect(reviewAttempt(packet, attempt, opts())).rejects.toMatchObject({
      code: "ERR_REVIEW_EVIDENCE_MISSING",
    });
  });

  it("an attempt of another packet, or of an older version of this one, is refused", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    await expect(
      reviewAttempt(makePacket({ instruction: "changed" }), attempt, opts()),
    ).rejects.toMatchObject({
      code: "ERR_REVIEW_ATTEMPT_MISMATCH",
    });
    await expect(
      reviewAttempt(packet, { ...attempt, outcome: "bogus" } as unknown as Attempt, opts()),
    ).rejects.toMatchObject({
      code: "ERR_REVIEW_ATTEMPT_INVALID",
    });
  });

  it("an evidence path that escapes the attempt directory is refused", async () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    attempt.files.push({ path: "../outside", digest: digest(1), bytes: 1 });
    attempt.diff = "../outside";
    await expect(reviewAttempt(packet, attempt, opts())).rejects.toMatchObject({
      code: "ERR_REVIEW_ATTEMPT_INVALID",
    });
  });
});
