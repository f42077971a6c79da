import { describe, expect, it } from "vitest";
import { Judge, type Judgement } from "../judgement.js";
import { checkFalsifiable } from "./falsifiable.js";

const with_ = (falsifiers: number, effect?: "repair" | "human"): Judgement => {
  const j = new Judge();
  j.falsifiers = falsifiers;
  if (effect) j.find("REVIEW_X", "x", effect);
  return j.done({});
};

describe("checkFalsifiable", () => {
  it("passes when anything in the evidence could have failed the result, counting across checks", () => {
    expect(checkFalsifiable([with_(1), with_(0), with_(2)], undefined)).toEqual({
      checks: [{ id: "falsifiable", kind: "falsifiable", status: "pass", detail: "3 falsifying check(s)" }],
      findings: [],
      falsifiers: 0,
    });
  });

  it("nothing could falsify an approval: a human must look, unless the option approves it", () => {
    for (const option of [undefined, "needs-human"] as const) {
      const j = checkFalsifiable([with_(0)], option);
      expect(j.findings.map((f) => [f.code, f.effect])).toEqual([["REVIEW_UNVERIFIABLE", "human"]]);
      expect(j.checks.map((c) => c.status)).toEqual(["fail"]);
    }
    const approved = checkFalsifiable([with_(0)], "approve");
    expect([approved.checks.map((c) => c.status), approved.findings]).toEqual([["skipped"], []]);
  });

  it("adds nothing when another check already failed the result", () => {
    expect(checkFalsifiable([with_(0, "repair")], undefined)).toEqual({
      checks: [],
      findings: [],
      falsifiers: 0,
    });
    expect(checkFalsifiable([with_(0, "human")], "approve")).toEqual({
      checks: [],
      findings: [],
      falsifiers: 0,
    });
  });
});
