import type { ReviewFinding } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { type Effect, Judge, verdictOf } from "./judgement.js";

const found = (...effects: Effect[]) => ({
  findings: effects.map(
    (effect): ReviewFinding => ({ code: "REVIEW_X", message: "x", effect, evidence: [] }),
  ),
});

describe("verdictOf", () => {
  it("is approved when no check found anything", () => {
    expect(verdictOf([])).toBe("approved");
    expect(verdictOf([found(), found()])).toBe("approved");
  });

  it("is the gravest effect over every check's findings: infra, then human, then repair", () => {
    expect(verdictOf([found("repair")])).toBe("changes-requested");
    expect(verdictOf([found("human")])).toBe("needs-human");
    expect(verdictOf([found("infra")])).toBe("infra-failed");
    expect(verdictOf([found("repair", "human", "repair")])).toBe("needs-human");
    expect(verdictOf([found("human"), found("repair")])).toBe("needs-human");
    expect(verdictOf([found("repair"), found(), found("infra"), found("human")])).toBe("infra-failed");
  });

  it("does not depend on the order of the findings", () => {
    const effects: Effect[] = ["repair", "human", "repair"];
    for (let i = 0; i < effects.length; i++) {
      const turned = [...effects.slice(i), ...effects.slice(0, i)];
      expect(verdictOf(turned.map((e) => found(e)))).toBe("needs-human");
    }
  });
});

describe("Judge", () => {
  it("keeps checks and findings in order, drops null evidence, and hands over what else was found", () => {
    const j = new Judge()
      .check("a", "output", "pass", "fine")
      .find("REVIEW_A", "a", "repair", [null, { path: "x", digest: null, excerpt: "e" }])
      .check("b", "tests", "fail", "bad");
    j.falsifiers += 2;
    expect(j.done({ extra: 1 })).toEqual({
      checks: [
        { id: "a", kind: "output", status: "pass", detail: "fine" },
        { id: "b", kind: "tests", status: "fail", detail: "bad" },
      ],
      findings: [
        {
          code: "REVIEW_A",
          message: "a",
          effect: "repair",
          evidence: [{ path: "x", digest: null, excerpt: "e" }],
        },
      ],
      falsifiers: 2,
      extra: 1,
    });
  });
});
