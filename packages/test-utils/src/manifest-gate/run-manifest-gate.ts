// The engine every package's manifest gate runs on: read fixtures/<package>/manifest.json,
// run each case through the package's own driver in a fresh temporary directory, compare
// what the driver observed with the case's `expect`, and sum the results up as keep/kill.
// The summary holds no time, host or absolute path, so it is the same on every machine.
import fs from "node:fs";
import path from "node:path";
import { canonicalJson, isDwmError } from "@dwm/core";
import type { ManifestFailure, ManifestSummary } from "@dwm/schemas";
import { makeTempDir } from "../temp.js";

/** One case of a manifest: an id that names what it proves, the driver's inputs, and `expect`. */
export interface GateCase {
  id: string;
  description?: string;
  expect: Record<string, unknown>;
  [key: string]: unknown;
}

/** What a driver gets for one case. */
export interface CaseContext {
  /** The manifest's folder: case inputs are relative to it. */
  readonly fixtures: string;
  /** A fresh temporary directory, removed after the case. */
  readonly tmp: string;
  /** The whole manifest (for shared, top-level inputs). */
  readonly manifest: Readonly<Record<string, unknown>>;
  /** Does the case expect `key`? */
  expects(key: string): boolean;
  /** Compare `actual` with `expect[key]` (canonical JSON equality) when the case names it. */
  check(key: string, actual: unknown): void;
  /** check() each observation; the case names the ones it cares about. */
  checkAll(observed: Readonly<Record<string, unknown>>): void;
  /**
   * Compare an output's digest with `expect.digests[name]`. Every output a driver digests
   * must have its golden digest in the manifest, so any change to its bytes shows in review.
   */
  golden(name: string, actual: string): void;
  /**
   * Run the step under test. A thrown DwmError whose code is `expect.error` is the expected
   * outcome (returns undefined: the driver stops there); any other throw fails the case.
   */
  outcome<T>(fn: () => T | Promise<T>): Promise<T | undefined>;
  /** Record a mismatch the driver found itself. */
  fail(message: string): void;
  /** Run `fn` when the case ends (after the temporary directory's own removal is queued). */
  defer(fn: () => void): void;
}

/** A package's gate: its name, the keys its cases may carry, and the driver that runs one case. */
export interface GateSuite<C extends GateCase = GateCase> {
  name: string;
  /** Case keys besides id, description and expect. */
  caseKeys: readonly string[];
  /** Fewer cases than this is a kill (the issue asks at least 15 per package). */
  minCases?: number;
  /** A case that takes longer fails (a hang guard, not a speed check). Default 120 s. */
  caseTimeoutMs?: number;
  runCase(c: C, ctx: CaseContext): Promise<void> | void;
}

export interface RunGateOptions {
  /** Write the digests each case produced into the manifest's `expect.digests` (review the diff). */
  record?: boolean;
}

const SAFE_ID = /^[a-z0-9][a-z0-9._-]*$/;
const BASE_KEYS = new Set(["id", "description", "expect"]);

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v));

class CaseRun implements CaseContext {
  readonly problems: string[] = [];
  readonly used = new Set<string>();
  readonly usedDigests = new Set<string>();
  readonly recorded: Record<string, string> = {};
  readonly cleanups: (() => void)[] = [];
  constructor(
    readonly c: GateCase,
    readonly fixtures: string,
    readonly tmp: string,
    readonly manifest: Readonly<Record<string, unknown>>,
    readonly record: boolean,
  ) {}

  expects(key: string): boolean {
    return key in this.c.expect;
  }

  check(key: string, actual: unknown): void {
    if (!this.expects(key)) return;
    this.used.add(key);
    const want = this.c.expect[key];
    if (!same(actual, want)) this.problems.push(`${key}: expected ${show(want)}, got ${show(actual)}`);
  }

  checkAll(observed: Readonly<Record<string, unknown>>): void {
    // For a manifest's author: DWM_GATE_SHOW=1 prints what each case observed.
    if (process.env.DWM_GATE_SHOW === "1")
      process.stderr.write(`SHOW ${this.c.id}: ${JSON.stringify(observed)}\n`);
    for (const [k, v] of Object.entries(observed)) this.check(k, v);
  }

  golden(name: string, actual: string): void {
    this.used.add("digests");
    this.usedDigests.add(name);
    this.recorded[name] = actual;
    if (this.record) return;
    const want = (this.c.expect.digests as Record<string, unknown> | undefined)?.[name];
    if (want === undefined)
      this.problems.push(`no golden digest for ${name} (got ${actual}; run the gate with --record)`);
    else if (want !== actual) this.problems.push(`digest of ${name}: expected ${want}, got ${actual}`);
  }

  async outcome<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
    const want = this.c.expect.error;
    if (want !== undefined) this.used.add("error");
    try {
      const value = await fn();
      if (want !== undefined) this.problems.push(`error: expected ${show(want)}, got none`);
      return value;
    } catch (e) {
      if (!isDwmError(e)) throw e;
      if (want === undefined) throw e;
      if (e.code !== want) this.problems.push(`error: expected ${show(want)}, got ${e.code}: ${e.message}`);
      return undefined;
    }
  }

  fail(message: string): void {
    this.problems.push(message);
  }

  defer(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Expectations no driver step looked at: a typo or a key this suite does not know. */
  unchecked(): string[] {
    const out = Object.keys(this.c.expect)
      .filter((k) => !this.used.has(k))
      .map((k) => `expect.${k} was never checked (not a key this gate knows, or the case stopped early)`);
    const digests = (this.c.expect.digests ?? {}) as Record<string, unknown>;
    for (const name of Object.keys(digests)) {
      if (!this.usedDigests.has(name) && !this.record) out.push(`golden digest ${name} names no output`);
    }
    return out;
  }
}

function checkShape(c: unknown, suite: GateSuite, seen: Set<string>): string | null {
  if (typeof c !== "object" || c === null || Array.isArray(c)) return "a case must be an object";
  const o = c as Record<string, unknown>;
  if (typeof o.id !== "string" || !SAFE_ID.test(o.id)) return "a case needs an id of [a-z0-9._-]";
  if (seen.has(o.id)) return "duplicate case id";
  seen.add(o.id);
  const allowed = new Set([...BASE_KEYS, ...suite.caseKeys]);
  const extra = Object.keys(o).filter((k) => !allowed.has(k));
  if (extra.length) return `unknown case keys: ${extra.join(", ")}`;
  if (typeof o.expect !== "object" || o.expect === null || Object.keys(o.expect).length === 0)
    return "a case must expect something";
  return null;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the case took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function errorText(e: unknown): string {
  if (isDwmError(e)) return `threw ${e.code}: ${e.message}`;
  return `threw ${e instanceof Error ? e.message : String(e)}`;
}

async function runOne(
  c: GateCase,
  suite: GateSuite,
  dir: string,
  manifest: Record<string, unknown>,
  record: boolean,
): Promise<{ problems: string[]; recorded: Record<string, string> }> {
  const tmp = makeTempDir(`dwm-gate-${suite.name}-`);
  const run = new CaseRun(c, dir, tmp.path, manifest, record);
  try {
    await withTimeout(Promise.resolve(suite.runCase(c, run)), suite.caseTimeoutMs ?? 120_000);
    run.problems.push(...run.unchecked());
  } catch (e) {
    run.problems.push(errorText(e));
  } finally {
    for (const f of run.cleanups.reverse()) {
      try {
        f();
      } catch {
        // A failed cleanup of a temporary file says nothing about the case.
      }
    }
    tmp.cleanup();
  }
  return { problems: run.problems, recorded: run.recorded };
}

function readManifest(file: string): { manifest: Record<string, unknown>; cases: unknown[] } {
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  const cases = manifest.cases;
  if (!Array.isArray(cases)) throw new Error("the manifest has no cases list");
  return { manifest, cases };
}

function summarize(suiteId: string, count: number, passed: number, failures: ManifestFailure[]) {
  const summary: ManifestSummary = {
    kind: "manifest-summary",
    schema_version: "1",
    suite_id: suiteId,
    case_count: count,
    required_count: count,
    passed,
    failed: failures.length,
    skipped: 0,
    decision: failures.length === 0 ? "keep" : "kill",
    failures,
    skipped_ids: [],
  };
  return summary;
}

/**
 * Run every case of a manifest with a package's driver. Never throws for a bad case or
 * manifest: those are failures, so the decision is kill. With `record`, the digests the
 * cases produced are written back into the manifest's `expect.digests`.
 */
export async function runManifestGate<C extends GateCase>(
  manifestFile: string,
  suite: GateSuite<C>,
  options: RunGateOptions = {},
): Promise<ManifestSummary> {
  const dir = path.dirname(manifestFile);
  let read: ReturnType<typeof readManifest>;
  try {
    read = readManifest(manifestFile);
  } catch (e) {
    const message = `cannot read the manifest: ${(e as Error).message}`;
    return summarize(suite.name, 0, 0, [{ id: "manifest", message }]);
  }
  const { manifest, cases } = read;
  const failures: ManifestFailure[] = [];
  const seen = new Set<string>();
  let passed = 0;
  for (const [i, c] of cases.entries()) {
    const id = typeof (c as { id?: unknown })?.id === "string" ? (c as { id: string }).id : `#${i}`;
    const bad = checkShape(c, suite as unknown as GateSuite, seen);
    if (bad) {
      failures.push({ id, message: bad });
      continue;
    }
    const r = await runOne(c as C, suite as unknown as GateSuite, dir, manifest, options.record ?? false);
    if (options.record) {
      const expect = (c as GateCase).expect;
      if (Object.keys(r.recorded).length > 0) expect.digests = r.recorded;
      else delete expect.digests;
    }
    if (r.problems.length) failures.push({ id, message: r.problems.join("; ") });
    else passed++;
  }
  const min = suite.minCases ?? 0;
  if (cases.length < min)
    failures.push({ id: "manifest", message: `${cases.length} case(s); this gate needs at least ${min}` });
  if (options.record) fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  const suiteId = typeof manifest.suite_id === "string" ? manifest.suite_id : suite.name;
  return summarize(suiteId, cases.length, passed, failures);
}
