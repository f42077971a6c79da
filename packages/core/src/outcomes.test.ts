import { type AttemptOutcome, loadSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { INFRA_OUTCOMES, isInfraOutcome } from "./outcomes.js";

// Every value of the attempt schema's outcome enum, and what it says. A value added to the schema
// fails the first test until it is classified here.
const CLASSIFICATION: Record<AttemptOutcome, "work" | "infra"> = {
  ok: "work",
  "task-failed": "work",
  timeout: "infra",
  crashed: "infra",
  "auth-failed": "infra",
  "backend-missing": "infra",
  "rate-limited": "infra",
};

describe("isInfraOutcome", () => {
  it("pins the classification of every outcome in the attempt schema's enum", () => {
    const schema = loadSchema("attempt") as { $defs: { outcome: { enum: string[] } } };
    const values = schema.$defs.outcome.enum;
    expect([...values].sort()).toEqual(Object.keys(CLASSIFICATION).sort());
    expect(Object.fromEntries(values.map((o) => [o, isInfraOutcome(o) ? "infra" : "work"]))).toEqual(
      CLASSIFICATION,
    );
  });

  it("INFRA_OUTCOMES lists exactly the infrastructure outcomes, in the schema's order", () => {
    expect([...INFRA_OUTCOMES]).toEqual([
      "timeout",
      "crashed",
      "auth-failed",
      "backend-missing",
      "rate-limited",
    ]);
  });

  it("never calls a value outside the enum an infrastructure failure", () => {
    for (const o of ["not-run", "", "OK", "Timeout", "infra-failed", "unknown"]) {
      expect(isInfraOutcome(o), o).toBe(false);
    }
  });
});
