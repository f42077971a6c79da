// Plan fuzzing: the repository's own plans (examples/, the schema's valid examples) mutated at random,
// as JSON values (drop, retype, add keys; break ids, dependencies and paths) and as bytes (flips,
// truncation, BOM, invalid UTF-8, deep nesting). Each mutant goes the way a plan file goes:
// parsePlanBytes (what loadPlanFile runs) → evaluatePlan → compilePlan when valid; a sample also
// through `dwm evaluate` in-process. Zero uncaught exceptions: everything thrown must be a DwmError
// whose code is in a catalogue; every invalid plan's scorecard lists problems with catalogue codes.
import fs from "node:fs";
import path from "node:path";
import { compilePlan } from "@dwm/compiler";
import { isDwmError } from "@dwm/core";
import { evaluatePlan, parsePlanBytes } from "@dwm/plan-evaluator";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { catalogueCodes } from "./support/codes.js";
import { dwmInProcess, EXAMPLES, REPO_ROOT } from "./support/dwm.js";
import type { Rng } from "./support/rng.js";
import { modeOf, report, SEED, size, suiteRng } from "./support/suite.js";

const TRIALS = size("fuzz", 600, 10_000);
const CLI_EVERY = 25;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function seedPlans(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const d of fs.readdirSync(EXAMPLES)) {
    const f = path.join(EXAMPLES, d, "workflow.plan.json");
    if (fs.existsSync(f)) out.push({ name: `examples/${d}`, text: fs.readFileSync(f, "utf8") });
  }
  const valid = path.join(REPO_ROOT, "schemas", "examples", "workflow-plan", "valid");
  for (const f of fs.readdirSync(valid).sort())
    out.push({ name: `schemas/${f}`, text: fs.readFileSync(path.join(valid, f), "utf8") });
  return out;
}

/** Paths to every node of a JSON value (the root is []). */
function nodes(
  v: Json,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) nodes(x, [...at, i], out);
  else if (v !== null && typeof v === "object")
    for (const k of Object.keys(v)) nodes(v[k] as Json, [...at, k], out);
  return out;
}

function get(v: Json, p: (string | number)[]): Json {
  let cur: Json = v;
  for (const k of p) cur = (cur as Record<string | number, Json>)[k] as Json;
  return cur;
}

/** Set an own property (also `__proto__`, which plain assignment would treat as the prototype). */
function put(obj: Record<string, Json> | Json[], key: string | number, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const NASTY_STRINGS = [
  "",
  "   ",
  "../outside",
  "/etc/passwd",
  "a/../../b",
  "C:\\Windows",
  "..\\..\\x",
  "x\u0000y",
  "\ud800",
  "\u202e\u0645",
  "😀".repeat(50),
  "a".repeat(20_000),
  "$" + "{HOME}",
  "$(rm -rf /)",
  "__proto__",
  "constructor",
  "human_gate",
  "*",
  "**/*",
  "0.5",
  "0.6",
  "0.7",
];

function randomValue(rng: Rng, pool: Json[]): Json {
  switch (rng.int(9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 1e-7]);
    case 3:
      return rng.pick(NASTY_STRINGS);
    case 4:
      return [];
    case 5:
      return {};
    case 6: {
      let deep: Json = [];
      for (let i = rng.range(1, 40); i > 0; i--) deep = [deep];
      return deep;
    }
    case 7:
      return structuredClone(rng.pick(pool));
    default:
      return `mutant-${rng.int(1000)}`;
  }
}

/** One structural mutation, in place (the root itself may be replaced: returned). */
function mutate(rng: Rng, plan: Json, pool: Json[]): Json {
  const all = nodes(plan);
  const p = rng.pick(all);
  if (p.length === 0 && rng.chance(0.05)) return randomValue(rng, pool);
  const parentPath = p.slice(0, -1);
  const key = p.at(-1);
  const parent = p.length === 0 ? null : (get(plan, parentPath) as Record<string, Json> | Json[]);
  const node = get(plan, p);
  const op = rng.int(10);
  if (op === 0 && parent && key !== undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else if (op === 1 && parent && key !== undefined) {
    put(parent, key, randomValue(rng, pool));
  } else if (op === 2 && node !== null && typeof node === "object" && !Array.isArray(node)) {
    put(
      node,
      rng.pick(["__proto__", "constructor", "extra", "toString", "id", "depends_on", ""]),
      randomValue(rng, pool),
    );
  } else if (op === 3 && Array.isArray(node) && node.length > 0) {
    const what = rng.int(4);
    if (what === 0) node.push(structuredClone(rng.pick(node)));
    else if (what === 1) node.length = 0;
    else if (what === 2) node.reverse();
    else node.splice(rng.int(node.length), 1);
  } else if (op === 4 && parent && key !== undefined && typeof node === "string") {
    put(parent, key, rng.pick(NASTY_STRINGS));
  } else if (op === 5) {
    // Break the graph: a phase depends on itself, an unknown phase, or a later one (a cycle).
    const phases = (plan as { phases?: Json }).phases;
    if (Array.isArray(phases) && phases.length > 0) {
      const ph = rng.pick(phases) as Record<string, Json>;
      if (ph && typeof ph === "object") {
        const other = rng.pick(phases) as Record<string, Json>;
        ph.depends_on = [rng.pick([ph.id ?? null, "nowhere", other?.id ?? null, "../x"])];
      }
    }
  } else if (op === 6) {
    // Rename an id to another existing id (duplicates) or to a path.
    const ids = all.filter((q) => q.at(-1) === "id" || q.at(-1) === "artifact" || q.at(-1) === "plan_id");
    if (ids.length > 0) {
      const q = rng.pick(ids);
      const src = get(plan, rng.pick(ids));
      put(
        get(plan, q.slice(0, -1)) as Record<string, Json>,
        q.at(-1) as string,
        rng.chance(0.5) ? src : rng.pick(NASTY_STRINGS),
      );
    }
  } else if (op === 7 && typeof node === "number" && parent && key !== undefined) {
    put(parent, key, rng.pick([-1, 0, 0.5, 1e9, 2 ** 53 + 2]));
  } else if (op === 8 && parent && key !== undefined) {
    // Graft a subtree of another plan.
    const donor = rng.pick(pool);
    put(parent, key, structuredClone(get(donor, rng.pick(nodes(donor)))));
  } else if (parent && key !== undefined) {
    put(parent, key, typeof node === "string" ? node.toUpperCase() : String(node));
  }
  return plan;
}

/** One byte-level mutation of the serialised plan. */
function mutateBytes(rng: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  switch (rng.int(7)) {
    case 0: {
      const i = rng.int(b.length);
      b[i] = (b[i] as number) ^ (1 << rng.int(8));
      return b;
    }
    case 1:
      return b.subarray(0, rng.int(b.length));
    case 2:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
    case 3: {
      const i = rng.int(b.length);
      return Buffer.concat([
        b.subarray(0, i),
        Buffer.from([rng.pick([0xc3, 0xff, 0x80, 0xed])]),
        b.subarray(i),
      ]);
    }
    case 4: {
      const n = rng.range(20, 200);
      return Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`);
    }
    case 5: {
      const i = rng.int(b.length);
      const j = rng.int(b.length);
      return Buffer.concat([b.subarray(0, Math.min(i, j)), b.subarray(Math.max(i, j))]);
    }
    default: {
      const i = rng.int(b.length);
      return Buffer.concat([
        b.subarray(0, i),
        Buffer.from(rng.pick(['"', "{", "}", ",", ":", "\\", "0", "null"])),
        b.subarray(i),
      ]);
    }
  }
}

const counts = {
  mutants: 0,
  byte_mutants: 0,
  rejected_at_parse: 0,
  invalid_scorecards: 0,
  valid_plans: 0,
  compiled: 0,
  rejected_at_compile: 0,
  via_cli: 0,
  uncaught_exceptions: 0,
  uncoded_rejections: 0,
};
const codeCounts: Record<string, number> = {};
const failures: { trial: number; stage: string; error: string; problem?: string }[] = [];
const startedAt = Date.now();

describe(`plan fuzz (${TRIALS} mutants, seed ${SEED})`, () => {
  afterAll(() => {
    report(
      {
        suite: "plan-fuzz",
        mode: modeOf("fuzz"),
        seed: SEED,
        counts,
        detail: { codes: codeCounts, failures },
      },
      startedAt,
    );
  });

  it("no mutant throws anything but a catalogued DwmError; every rejection carries codes", async () => {
    const codes = catalogueCodes();
    const seeds = seedPlans();
    expect(seeds.length).toBeGreaterThanOrEqual(5);
    const pool = seeds.map((s) => JSON.parse(s.text) as Json);
    const rng = suiteRng("plan-fuzz");
    const tmp = makeTempDir("dwm-rel-fuzz-");
    const coded = (trial: number, stage: string, e: unknown): void => {
      if (!isDwmError(e)) {
        counts.uncaught_exceptions++;
        failures.push({ trial, stage, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      } else if (!codes.has(e.code)) {
        counts.uncoded_rejections++;
        failures.push({ trial, stage, error: `uncatalogued ${e.code}: ${e.message}` });
      } else codeCounts[e.code] = (codeCounts[e.code] ?? 0) + 1;
    };
    try {
      for (let n = 0; n < TRIALS; n++) {
        const r = rng.fork(n);
        counts.mutants++;
        let plan: Json = structuredClone(r.pick(pool));
        for (let k = r.range(1, 4); k > 0; k--) plan = mutate(r, plan, pool);
        let bytes: Buffer = Buffer.from(JSON.stringify(plan, null, 2));
        if (r.chance(0.25)) {
          counts.byte_mutants++;
          bytes = mutateBytes(r, bytes);
        }
        let parsed: unknown;
        try {
          parsed = parsePlanBytes(bytes, "fuzz.plan.json").plan;
        } catch (e) {
          counts.rejected_at_parse++;
          coded(n, "parse", e);
          continue;
        }
        let sc: ReturnType<typeof evaluatePlan>;
        try {
          sc = evaluatePlan(parsed);
        } catch (e) {
          coded(n, "evaluate", e);
          continue;
        }
        const shape = validateSchema("scorecard", sc);
        if (!shape.ok) {
          // Name the offending problem so the failure can be turned into a manifest case.
          const at = /^\/problems\/(\d+)/.exec(shape.problems[0]?.pointer ?? "");
          failures.push({
            trial: n,
            stage: "scorecard",
            error: JSON.stringify(shape.problems[0]),
            ...(at ? { problem: JSON.stringify(sc.problems[Number(at[1])]) } : {}),
          });
        }
        if (!sc.valid) {
          counts.invalid_scorecards++;
          if (sc.problems.length === 0) {
            counts.uncoded_rejections++;
            failures.push({ trial: n, stage: "evaluate", error: "invalid with no problem listed" });
          }
          for (const p of sc.problems) {
            if (!codes.has(p.code) || !p.message || !p.hint) {
              counts.uncoded_rejections++;
              failures.push({ trial: n, stage: "evaluate", error: `problem ${JSON.stringify(p)}` });
            } else codeCounts[p.code] = (codeCounts[p.code] ?? 0) + 1;
          }
        } else {
          counts.valid_plans++;
          try {
            compilePlan(parsed, { repoRoot: tmp.path, baseCommit: null, newRun: true });
            counts.compiled++;
          } catch (e) {
            counts.rejected_at_compile++;
            coded(n, "compile", e);
          } finally {
            fs.rmSync(path.join(tmp.path, ".dwm"), { recursive: true, force: true });
          }
        }
        if (n % CLI_EVERY === 0) {
          // The same bytes through `dwm evaluate`: exit 0 or 1, a coded message, never a stack trace.
          counts.via_cli++;
          const file = path.join(tmp.path, "fuzz.plan.json");
          fs.writeFileSync(file, bytes);
          const o = await dwmInProcess(tmp.path, ["evaluate", "fuzz.plan.json"]);
          if (
            !(o.code === 0 || o.code === 1) ||
            /\n\s+at /.test(o.stderr) ||
            o.stderr.includes("ERR_CLI_INTERNAL")
          ) {
            counts.uncaught_exceptions++;
            failures.push({
              trial: n,
              stage: "dwm evaluate",
              error: `exit ${o.code}: ${o.stderr.slice(0, 500)}`,
            });
          }
        }
      }
    } finally {
      tmp.cleanup();
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(counts.uncaught_exceptions).toBe(0);
    expect(counts.uncoded_rejections).toBe(0);
    // The mutants reach every stage: some are rejected at parse, some evaluate invalid, some compile.
    expect(counts.rejected_at_parse).toBeGreaterThan(0);
    expect(counts.invalid_scorecards).toBeGreaterThan(0);
    expect(counts.compiled).toBeGreaterThan(0);
  });
});
