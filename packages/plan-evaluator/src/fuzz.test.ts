// Property tests: mutated plans (keys deleted, renamed or retyped, references broken,
// cycles added) and random bytes never make the evaluator throw; every result is a
// schema-valid scorecard whose problems carry catalogue codes and resolvable pointers.
import fs from "node:fs";
import { isDwmError } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluatePlan, parsePlanBytes, planEvaluatorErrors } from "./index.js";

const plans = [
  "activate-pipeline-audit",
  "activate-fanout-research",
  "activate-migration-loop",
  "downgrade-direct-codex",
  "activate-fanout-0.6",
].map(
  (n) =>
    JSON.parse(
      fs.readFileSync(new URL(`../../../fixtures/plan-evaluator/plans/${n}.json`, import.meta.url), "utf8"),
    ) as Record<string, unknown>,
);
const codes = new Set(planEvaluatorErrors.list().map((e) => e.code));

type Path = (string | number)[];

function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function parentOf(root: unknown, p: Path): [Record<string | number, unknown>, string | number] | null {
  if (p.length === 0) return null;
  let cur = root as Record<string | number, unknown>;
  for (const t of p.slice(0, -1)) cur = cur[t] as Record<string | number, unknown>;
  return [cur, p[p.length - 1] as string | number];
}

interface Mutation {
  kind: "delete" | "rename" | "retype" | "dangle" | "cycle" | "duplicate";
  pick: number;
  value: unknown;
  name: string;
}

function mutate(plan: Record<string, unknown>, m: Mutation): void {
  const all = paths(plan);
  const p = all[m.pick % all.length] as Path;
  const slot = parentOf(plan, p);
  if (m.kind === "cycle") {
    const phases = plan.phases;
    if (Array.isArray(phases) && phases.length > 0) {
      const a = phases[m.pick % phases.length] as Record<string, unknown>;
      const b = phases[(m.pick >> 3) % phases.length] as Record<string, unknown>;
      if (a && b && Array.isArray(a.depends_on)) a.depends_on.push(b.id);
    }
    return;
  }
  if (!slot) return;
  const [parent, key] = slot;
  if (m.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (m.kind === "rename" && !Array.isArray(parent)) {
    const v = parent[key];
    delete parent[key];
    parent[m.name] = v;
  } else if (m.kind === "retype") {
    parent[key] = m.value;
  } else if (m.kind === "dangle") {
    if (typeof parent[key] === "string") parent[key] = m.name;
  } else if (m.kind === "duplicate" && Array.isArray(parent)) {
    parent.push(structuredClone(parent[Number(key)]));
  }
}

const mutation = fc.record({
  kind: fc.constantFrom("delete", "rename", "retype", "dangle", "cycle", "duplicate"),
  pick: fc.nat(),
  value: fc.jsonValue({ maxDepth: 3 }),
  name: fc.string({ maxLength: 12 }),
}) as fc.Arbitrary<Mutation>;

function resolves(root: unknown, pointer: string): boolean {
  if (pointer === "") return true;
  const tokens = pointer
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  let cur = root;
  // The parent of the pointed-at value must exist (a missing key points at where it belongs).
  for (const t of tokens.slice(0, -1)) {
    if (cur === null || typeof cur !== "object" || !(t in cur)) return false;
    cur = (cur as Record<string, unknown>)[t];
  }
  return cur !== null && typeof cur === "object";
}

describe("fuzz", () => {
  it("mutated plans always give a coded, schema-valid scorecard", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.nat(plans.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
        const plan = structuredClone(plans[i] as Record<string, unknown>);
        for (const m of ms) mutate(plan, m);
        const sc = evaluatePlan(plan);
        expect(validateSchema("scorecard", sc).problems).toEqual([]);
        expect(sc.valid).toBe(sc.problems.length === 0);
        for (const p of sc.problems) {
          seen.add(p.code);
          expect(codes.has(p.code), p.code).toBe(true);
          expect(resolves(plan, p.pointer), `${p.code} ${p.pointer}`).toBe(true);
        }
        expect(JSON.stringify(evaluatePlan(structuredClone(plan)))).toBe(JSON.stringify(sc));
      }),
      { numRuns: 400, seed: 4242 },
    );
    // The mutations reach the rules, not only the schema.
    for (const c of [
      "ERR_PLAN_MISSING_KEY",
      "ERR_PLAN_UNEXPECTED_KEY",
      "ERR_PLAN_TYPE",
      "ERR_PLAN_CYCLE",
      "ERR_PLAN_UNKNOWN_PHASE",
    ])
      expect(seen, c).toContain(c);
    expect(seen.size).toBeGreaterThanOrEqual(12);
  });

  it("arbitrary JSON values never throw", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const sc = evaluatePlan(v);
        expect(validateSchema("scorecard", sc).ok).toBe(true);
        expect(sc.valid).toBe(false);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it("arbitrary bytes either parse or throw a coded plan error", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v).slice(0, 40))),
        ),
        (bytes) => {
          try {
            parsePlanBytes(bytes, "fuzz.json");
          } catch (e) {
            expect(isDwmError(e)).toBe(true);
            expect(codes.has((e as { code: string }).code)).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
