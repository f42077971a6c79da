import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, check, makePacket, worker } from "../../test-support/builders.js";
import { EvidenceReader } from "../evidence.js";
import { checkTestWeakening } from "./test-weakening.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-tests-");
});
afterEach(() => tmp.cleanup());

function edit(file: string, body: string): string {
  return `diff --git a/${file} b/${file}\n--- a/${file}\n+++ b/${file}\n@@ -1,2 +1,2 @@\n${body}`;
}

function judge(
  patch: string | null,
  ownership: string[] = ["src/"],
  packet = makePacket({ workers: [worker({ ownership })] }),
) {
  const b = new AttemptBuilder(tmp.path, packet);
  if (patch !== null) b.file("diff.patch", patch);
  const attempt = b.build({ diff: patch === null ? null : "diff.patch", checks: [check()] });
  return checkTestWeakening(packet, attempt, new EvidenceReader(tmp.path, attempt));
}
const states = (j: ReturnType<typeof judge>) => j.checks.map((c) => `${c.id}=${c.status}`);
const effects = (j: ReturnType<typeof judge>) => j.findings.map((f) => `${f.code}:${f.effect}`);

describe("checkTestWeakening", () => {
  it("no diff: skipped, no summary", () => {
    const j = judge(null);
    expect([states(j), j.diff]).toEqual([["tests=skipped"], null]);
  });

  it("a clean diff passes and is summarised", () => {
    const j = judge(edit("src/a.ts", "-const a = 1;\n+const a = 2;\n+const b = 3;\n"));
    expect(states(j)).toEqual(["tests=pass"]);
    expect(j.diff).toEqual({
      files: [{ path: "src/a.ts", status: "modified", added: 2, removed: 1 }],
      added: 2,
      removed: 1,
    });
  });

  it("an edit to the script of the packet's own validation command asks for a repair, with the lines", () => {
    const j = judge(edit("scripts/check-report.mjs", "-process.exit(1)\n+process.exit(0)\n"));
    expect(effects(j)).toEqual(["REVIEW_CHECK_EDITED:repair"]);
    expect(states(j)).toEqual(["tests:REVIEW_CHECK_EDITED:scripts/check-report.mjs=fail"]);
    expect(j.findings[0]?.evidence).toEqual([
      {
        path: "diff.patch",
        digest: expect.stringMatching(/^sha256:/),
        excerpt: "-process.exit(1)\n+process.exit(0)",
      },
    ]);
  });

  it("ownership decides how much a weakened test weighs: exact → pass, broad → human, none → repair", () => {
    const patch = edit("test/a.test.ts", "-expect(a).toBe(1);\n");
    expect([states(judge(patch, ["test/a.test.ts"])), effects(judge(patch, ["test/a.test.ts"]))]).toEqual([
      ["tests:REVIEW_ASSERTIONS_REMOVED:test/a.test.ts=pass"],
      [],
    ]);
    expect(effects(judge(patch, ["test/"]))).toEqual(["REVIEW_ASSERTIONS_REMOVED:human"]);
    expect(effects(judge(patch, ["src/"]))).toEqual(["REVIEW_ASSERTIONS_REMOVED:repair"]);
  });

  it("a packet's own declared output is its work, never a judge, even when a check runs it", () => {
    const packet = makePacket({
      outputs: [{ artifact: "./gen.mjs", validation_command: "node gen.mjs" }],
      workers: [worker({ ownership: ["src/"] })],
    });
    const j = judge(edit("gen.mjs", "-a\n+b\n"), [], packet);
    expect([states(j), effects(j)]).toEqual([["tests=pass"], []]);
  });
});
