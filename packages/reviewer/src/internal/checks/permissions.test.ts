import type { AttemptFinding, ReviewFinding } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, makePacket, worker } from "../../test-support/builders.js";
import { verdictOf } from "../judgement.js";
import { checkPermissions } from "./permissions.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-permissions-");
});
afterEach(() => tmp.cleanup());

// `code` is a string: the reviewer must also cope with a code a later executor adds.
const executor = (code: string, paths: string[] = []): AttemptFinding => ({
  code: code as AttemptFinding["code"],
  message: `executor says ${code}`,
  worker_id: null,
  paths,
});
const earlierMissing: ReviewFinding = {
  code: "REVIEW_MISSING_OUTPUT",
  message: "m",
  effect: "repair",
  evidence: [],
};
const readOnly = worker({
  tool_permissions: { ...worker().tool_permissions, write: false },
});

describe("checkPermissions", () => {
  it("maps the executor's findings; a missing output is reported once; an unknown one is for a human", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build({
      findings: [
        executor("ownership-violation", ["docs/a.md"]),
        executor("output-missing", ["report.json"]),
        executor("secret-in-work", ["diff.patch"]),
        executor("something-new"),
      ],
    });
    const j = checkPermissions(packet, attempt, [earlierMissing]);
    expect(j.findings.map((f) => [f.code, f.effect, f.message])).toEqual([
      ["REVIEW_OWNERSHIP_VIOLATION", "repair", "executor says ownership-violation (docs/a.md)"],
      ["REVIEW_SECRET_IN_WORK", "human", "executor says secret-in-work (diff.patch)"],
      ["REVIEW_EXECUTOR_FINDING", "human", "executor says something-new"],
    ]);
    // An ownership violation is no "permissions pass".
    expect(j.checks.map((c) => c.id)).toEqual([
      "executor:ownership-violation",
      "executor:secret-in-work",
      "executor:something-new",
    ]);
    expect(checkPermissions(packet, attempt, []).findings.map((f) => f.code)).toContain(
      "REVIEW_MISSING_OUTPUT",
    );
  });

  it("refuses an attempt that changed the repository (never approved), and asks a repair of cut output", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build({
      findings: [
        executor("repository-changed", ["refs/heads/main"]),
        executor("output-truncated", ["workers/1-w/stdout"]),
      ],
    });
    const j = checkPermissions(packet, attempt, []);
    expect(j.findings.map((f) => [f.code, f.effect])).toEqual([
      ["REVIEW_REPOSITORY_CHANGED", "human"],
      ["REVIEW_OUTPUT_TRUNCATED", "repair"],
    ]);
    expect(verdictOf([j])).toBe("needs-human");
  });

  it("two executor findings of a missing output make one review finding", () => {
    const packet = makePacket();
    const attempt = new AttemptBuilder(tmp.path, packet).build({
      findings: [executor("output-missing", ["a"]), executor("output-missing", ["b"])],
    });
    expect(checkPermissions(packet, attempt, []).findings.map((f) => f.message)).toEqual([
      "executor says output-missing (a)",
    ]);
  });

  it("a read-only packet that changed files other than its declared outputs asks for a repair", () => {
    const packet = makePacket({ workers: [readOnly], outputs: [{ artifact: "./report.json" }] });
    const b = new AttemptBuilder(tmp.path, packet);
    const changed = [
      { path: "report.json", status: "added" as const, workers: ["builder"] },
      { path: "src/x.ts", status: "modified" as const, workers: ["builder"] },
    ];
    const j = checkPermissions(packet, b.build({ changed_files: changed }), []);
    expect(j.checks).toEqual([
      { id: "permissions:read-only", kind: "permissions", status: "fail", detail: "1 file(s) changed" },
    ]);
    expect(j.findings.map((f) => [f.code, f.evidence[0]?.excerpt])).toEqual([
      ["REVIEW_READ_ONLY_VIOLATION", "src/x.ts"],
    ]);
    // Only its declared output changed: that is what it was asked for.
    const k = checkPermissions(packet, b.build({ changed_files: changed.slice(0, 1) }), []);
    expect(k.checks.map((c) => [c.id, c.status, c.detail])).toEqual([
      ["permissions", "pass", "read-only, nothing changed"],
    ]);
  });

  it("the executor's own read-only finding is not repeated", () => {
    const packet = makePacket({ workers: [readOnly], outputs: [] });
    const attempt = new AttemptBuilder(tmp.path, packet).build({
      findings: [executor("read-only-violation", ["src/thing.ts"])],
    });
    expect(checkPermissions(packet, attempt, []).findings.map((f) => f.code)).toEqual([
      "REVIEW_READ_ONLY_VIOLATION",
    ]);
  });

  it("a writing packet with nothing wrong passes", () => {
    const packet = makePacket();
    const j = checkPermissions(packet, new AttemptBuilder(tmp.path, packet).build(), []);
    expect(j).toEqual({
      checks: [
        { id: "permissions", kind: "permissions", status: "pass", detail: "changes within ownership" },
      ],
      findings: [],
      falsifiers: 0,
    });
  });
});
