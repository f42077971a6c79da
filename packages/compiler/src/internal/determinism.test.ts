import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fixturePlan } from "../test-support/helpers.js";
import { buildRun } from "./build.js";
import type { PlanView } from "./plan.js";
import { renderPrompt } from "./prompt.js";

/** The same JSON value with every object's keys in another order. */
function shuffleKeys(value: unknown, rand: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, rand));
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [entries[i], entries[j]] = [entries[j] as [string, unknown], entries[i] as [string, unknown]];
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, rand)]));
  }
  return value;
}

describe("determinism", () => {
  const reference = buildRun(fixturePlan("pipeline") as unknown as PlanView);

  it("key order in the plan never changes a packet, prompt or gate", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        let x = seed >>> 0 || 1;
        const rand = () => {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          return (x >>> 0) / 2 ** 32;
        };
        const b = buildRun(shuffleKeys(fixturePlan("pipeline"), rand) as PlanView);
        expect([...b.packetDigests]).toEqual([...reference.packetDigests]);
        expect([...b.promptDigests]).toEqual([...reference.promptDigests]);
        expect([...b.gateDigests]).toEqual([...reference.gateDigests]);
      }),
      { numRuns: 25 },
    );
  });

  it("any text in the plan renders to a prompt that starts each value on its own item", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constant("## Evil heading"), fc.constant("x\n## Evil")),
        fc.string(),
        (objective, criterion) => {
          const packet = structuredClone(reference.packets[0]);
          if (!packet) throw new Error("no packet");
          packet.objective = objective;
          packet.phase.exit_criteria = [criterion];
          const a = renderPrompt(packet, "sha256:x");
          expect(renderPrompt(structuredClone(packet), "sha256:x")).toBe(a);
          // A newline inside a value never starts a new Markdown heading.
          const headings = a.split("\n").filter((l) => l.startsWith("## "));
          expect(headings).toEqual([
            "## Objective",
            "## Instruction",
            "## First slice",
            "## Depends on",
            "## Inputs",
            "## Expected outputs",
            "## Entry criteria",
            "## Exit criteria",
            "## Workers",
            "## Verification",
            "## Gates",
            "## Stop conditions",
            "## Completion check",
          ]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
