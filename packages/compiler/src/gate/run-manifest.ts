// The compiler's manifest gate: runs every case of fixtures/compiler/manifest.json
// against the real compiler (compilePlan, checkRun, loadRun) in temporary
// repositories and sums the results up as keep/kill. Deterministic: the summary
// holds no time, host or absolute path.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { digestBytes, isDwmError, renderArtifact } from "@dwm/core";
import { checkRun } from "../check-run.js";
import { type CompiledRun, compilePlan } from "../compile-plan.js";
import { loadRun } from "../load-run.js";

/** A JSON edit of a plan or an artifact. */
export type Edit =
  | { op: "set"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "push"; path: string; value: unknown };

/** A change to the compiled run before checkRun / loadRun. */
export type Tamper =
  | { file: string; replace: [string, string] }
  | { file: string; append: string }
  | { file: string; remove: true }
  | { file: string; edit: Edit[] }
  | { file: string; symlink_to_copy: true }
  /** Rewrite a prompt and the digest run.json records for it, consistently. */
  | { forge_prompt: string; replace: [string, string] };

export interface ManifestCase {
  id: string;
  type: "compile" | "determinism" | "drift" | "recompile";
  /** Path relative to the manifest's folder, or `ref:<file>` in the shared reference plans. */
  plan: string;
  mutate?: Edit[];
  store?: string;
  run_id?: string;
  new_run?: boolean;
  setup?: ({ symlink: string; to_outside: true } | { mkdir: string } | { write: string; content: string })[];
  /** recompile: the second compile's edits. */
  mutate_again?: Edit[];
  /** drift: edits to the plan file before checkRun. */
  plan_edit?: Edit[];
  tamper?: Tamper[];
  expect: {
    error?: string;
    packets?: string[];
    gates?: Record<string, string[]>;
    held?: Record<string, string[]>;
    human_gate?: string[];
    invalidators?: [string, string, string][];
    load_error?: string | null;
    changes?: { added: string[]; changed: string[]; removed: string[]; downstream: string[] };
    revision?: number;
    same_run?: boolean;
    kept_files?: string[];
    reference_all?: true;
    /** Schema 0.6: template packet id → [source packet, pipeline position]. */
    fanout_templates?: Record<string, [string, number]>;
    /** Schema 0.6: packets that run a command (command phases). */
    commands?: string[];
  };
}

export interface Manifest {
  suite_id: string;
  required_case_ids: string[];
  cases: ManifestCase[];
}

export interface ManifestSummary {
  kind: "manifest-summary";
  schema_version: "1";
  suite_id: string;
  case_count: number;
  required_count: number;
  passed: number;
  failed: number;
  skipped: number;
  decision: "keep" | "kill";
  failures: { id: string; message: string }[];
  skipped_ids: string[];
}

const REFERENCE_PLANS = process.env.DWM_REFERENCE_PLANS ?? "/work/shared/reference-plans";

class Skip extends Error {}

function pointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new Error(`bad JSON pointer ${p}`);
  return p
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function applyEdits(value: unknown, edits: Edit[] = []): unknown {
  const root = structuredClone(value) as Record<string, unknown>;
  for (const e of edits) {
    const parts = pointer(e.path);
    const last = parts.pop();
    let cur: unknown = root;
    for (const k of parts) cur = (cur as Record<string, unknown>)[k];
    if (cur === null || typeof cur !== "object" || last === undefined)
      throw new Error(`cannot edit ${e.path}`);
    const obj = cur as Record<string, unknown>;
    if (e.op === "set") obj[last] = structuredClone(e.value);
    else if (e.op === "remove") {
      if (Array.isArray(obj)) obj.splice(Number(last), 1);
      else delete obj[last];
    } else {
      const arr = obj[last];
      if (!Array.isArray(arr)) throw new Error(`${e.path} is not a list`);
      arr.push(structuredClone(e.value));
    }
  }
  return root;
}

function loadPlan(manifestDir: string, ref: string): unknown {
  if (ref.startsWith("ref:")) {
    const f = path.join(REFERENCE_PLANS, ref.slice(4));
    if (!fs.existsSync(f)) throw new Skip(`reference plan ${ref.slice(4)} is not available`);
    return JSON.parse(fs.readFileSync(f, "utf8"));
  }
  return JSON.parse(fs.readFileSync(path.join(manifestDir, ref), "utf8"));
}

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else out[r] = digestBytes(fs.readFileSync(path.join(dir, r)));
    }
  };
  walk("");
  return out;
}

function eq(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function errorCode(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (isDwmError(e)) return e.code;
    throw e;
  }
}

function checkCompiled(c: CompiledRun, x: ManifestCase["expect"]): void {
  if (x.packets)
    eq(
      "packets",
      c.run.packets.map((p) => p.packet_id),
      x.packets,
    );
  if (x.gates) eq("gates", Object.fromEntries(c.gates.map((g) => [g.gate_id, g.packets])), x.gates);
  if (x.held) {
    const held = Object.fromEntries(
      c.packets.filter((p) => p.gates.length > 0).map((p) => [p.packet_id, p.gates]),
    );
    eq("held packets", held, x.held);
  }
  if (x.human_gate)
    eq(
      "human-gate packets",
      c.packets.filter((p) => p.human_gate).map((p) => p.packet_id),
      x.human_gate,
    );
  if (x.fanout_templates) {
    const templates = Object.fromEntries(
      c.packets.flatMap((p) =>
        p.fanout?.role === "template" ? [[p.packet_id, [p.fanout.source_packet, p.fanout.position]]] : [],
      ),
    );
    eq("fan-out templates", templates, x.fanout_templates);
  }
  if (x.commands)
    eq(
      "command packets",
      c.packets.filter((p) => p.command !== undefined).map((p) => p.packet_id),
      x.commands,
    );
  // Every compile must read back clean.
  const loaded = loadRun(c.runDir);
  eq("loadRun digest", loaded.runDigest, c.runDigest);
}

function applyTamper(runDir: string, t: Tamper): void {
  if ("forge_prompt" in t) {
    const rel = `prompts/${t.forge_prompt}.md`;
    const text = fs.readFileSync(path.join(runDir, rel), "utf8").replace(t.replace[0], t.replace[1]);
    fs.writeFileSync(path.join(runDir, rel), text);
    const run = JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8"));
    for (const p of run.packets) if (p.packet_id === t.forge_prompt) p.prompt_digest = digestBytes(text);
    fs.writeFileSync(path.join(runDir, "run.json"), renderArtifact(run));
    return;
  }
  const f = path.join(runDir, t.file);
  if ("remove" in t) fs.rmSync(f);
  else if ("append" in t) fs.appendFileSync(f, t.append);
  else if ("replace" in t) {
    const s = fs.readFileSync(f, "utf8");
    if (!s.includes(t.replace[0])) throw new Error(`tamper: ${t.file} does not contain ${t.replace[0]}`);
    fs.writeFileSync(f, s.replace(t.replace[0], t.replace[1]));
  } else if ("edit" in t) {
    fs.writeFileSync(f, renderArtifact(applyEdits(JSON.parse(fs.readFileSync(f, "utf8")), t.edit)));
  } else {
    const copy = `${f}.real`;
    fs.renameSync(f, copy);
    fs.symlinkSync(copy, f);
  }
}

/** A fresh repository for one case, with its setup applied; `outside` must stay empty. */
function prepareRepo(tmp: string, setup: ManifestCase["setup"]): { repo: string; outside: string } {
  const repo = path.join(tmp, "repo");
  fs.mkdirSync(repo);
  const outside = path.join(tmp, "outside");
  fs.mkdirSync(outside);
  for (const s of setup ?? []) {
    if ("symlink" in s) fs.symlinkSync(outside, path.join(repo, s.symlink));
    else if ("mkdir" in s) fs.mkdirSync(path.join(repo, s.mkdir), { recursive: true });
    else {
      fs.mkdirSync(path.dirname(path.join(repo, s.write)), { recursive: true });
      fs.writeFileSync(path.join(repo, s.write), s.content);
    }
  }
  return { repo, outside };
}

type Options = Parameters<typeof compilePlan>[1];

function compileOptions(repo: string, c: ManifestCase): Options {
  return {
    repoRoot: repo,
    baseCommit: null,
    ...(c.store !== undefined ? { storeDir: c.store } : {}),
    ...(c.run_id !== undefined ? { runId: c.run_id } : {}),
    ...(c.new_run ? { newRun: true } : {}),
  };
}

/** The compile must fail with exactly this code, and write nothing outside the repository. */
function expectCompileError(plan: unknown, options: Options, code: string, outside: string): void {
  let got: string | null = null;
  try {
    compilePlan(plan, options);
  } catch (e) {
    if (!isDwmError(e)) throw e;
    got = e.code;
  }
  eq("error code", got, code);
  if (fs.readdirSync(outside).length > 0) throw new Error("the compiler wrote outside the repository");
}

/** The same plan compiles to the same bytes in another directory, and a recompile changes nothing. */
function checkDeterminism(tmp: string, plan: unknown, options: Options, first: CompiledRun): void {
  const other = path.join(tmp, "other");
  fs.mkdirSync(other);
  const second = compilePlan(structuredClone(plan), { ...options, repoRoot: other });
  eq("run digest in another directory", second.runDigest, first.runDigest);
  eq("files in another directory", tree(second.runDir), tree(first.runDir));
  const again = compilePlan(structuredClone(plan), options);
  eq("recompile of the same plan", again.changes, {
    added: [],
    changed: [],
    removed: [],
    downstream: [],
    gates: { added: [], changed: [], removed: [] },
  });
  eq("files after recompiling the same plan", tree(first.runDir), tree(second.runDir));
}

/** A second compile of the edited plan: the run it lands in, its revision, what changed and what was kept. */
function checkRecompile(c: ManifestCase, plan: unknown, options: Options, first: CompiledRun): void {
  const x = c.expect;
  const before = Object.fromEntries(
    (x.kept_files ?? []).map((f) => [f, fs.statSync(path.join(first.runDir, f)).ino]),
  );
  const second = compilePlan(applyEdits(plan, c.mutate_again), options);
  if (x.same_run !== undefined) eq("same run id", second.runId === first.runId, x.same_run);
  if (x.revision !== undefined) eq("revision", second.run.revision, x.revision);
  if (x.changes) {
    const ch = second.changes;
    eq(
      "changes",
      ch && { added: ch.added, changed: ch.changed, removed: ch.removed, downstream: ch.downstream },
      x.changes,
    );
  }
  for (const [f, ino] of Object.entries(before))
    eq(`${f} kept`, fs.statSync(path.join(second.runDir, f)).ino, ino);
  checkCompiled(second, {});
}

/** An edited plan file and a tampered store: checkRun's invalidators, loadRun's error, nothing written. */
function checkDrift(c: ManifestCase, repo: string, plan: unknown, first: CompiledRun): void {
  const x = c.expect;
  const planFile = path.join(repo, "workflow.plan.json");
  fs.writeFileSync(planFile, JSON.stringify(applyEdits(plan, c.plan_edit), null, 2));
  for (const t of c.tamper ?? []) applyTamper(first.runDir, t);
  const snapshot = tree(first.runDir);
  const inv = checkRun(first.runDir, planFile).map((i) => [i.code, i.artifact, i.id]);
  eq("checkRun wrote nothing", tree(first.runDir), snapshot);
  if (x.invalidators) eq("invalidators", inv, x.invalidators);
  if (x.load_error !== undefined)
    eq(
      "loadRun error",
      errorCode(() => loadRun(first.runDir)),
      x.load_error,
    );
}

function runCase(manifestDir: string, c: ManifestCase, tmp: string): void {
  const { repo, outside } = prepareRepo(tmp, c.setup);
  const plan = applyEdits(loadPlan(manifestDir, c.plan), c.mutate);
  const options = compileOptions(repo, c);
  if (c.expect.error) {
    expectCompileError(plan, options, c.expect.error, outside);
    return;
  }
  const first = compilePlan(plan, options);
  checkCompiled(first, c.expect);
  if (c.type === "determinism") checkDeterminism(tmp, plan, options, first);
  if (c.type === "recompile") checkRecompile(c, plan, options, first);
  if (c.type === "drift") checkDrift(c, repo, plan, first);
}

type Outcome = { result: "passed" } | { result: "skipped" } | { result: "failed"; message: string };

/** One case in its own temporary directory. */
function runIsolated(dir: string, c: ManifestCase): Outcome {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `dwm-gate-${c.id}-`)));
  try {
    runCase(dir, c, tmp);
    return { result: "passed" };
  } catch (e) {
    if (e instanceof Skip) return { result: "skipped" };
    return { result: "failed", message: isDwmError(e) ? `${e.code}: ${e.message}` : (e as Error).message };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Why a case id cannot be run (a duplicate, or not a safe file-name part), or null. */
function caseIdProblem(id: string, seen: ReadonlySet<string>): string | null {
  if (seen.has(id)) return "duplicate case id";
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(id)) return "case id is not a safe name";
  return null;
}

/** Run every case of a manifest; returns the summary (decision keep only when every required case passed). */
export function runManifest(manifestFile: string): ManifestSummary {
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
  const dir = path.dirname(manifestFile);
  const failures: { id: string; message: string }[] = [];
  const skipped: string[] = [];
  const ids = new Set<string>();
  let passed = 0;
  for (const c of manifest.cases) {
    const idProblem = caseIdProblem(c.id, ids);
    ids.add(c.id);
    const outcome: Outcome = idProblem ? { result: "failed", message: idProblem } : runIsolated(dir, c);
    if (outcome.result === "passed") passed++;
    else if (outcome.result === "skipped") skipped.push(c.id);
    else failures.push({ id: c.id, message: outcome.message });
  }
  for (const r of manifest.required_case_ids) {
    if (!ids.has(r)) failures.push({ id: r, message: "required case is missing from the manifest" });
    else if (skipped.includes(r)) failures.push({ id: r, message: "required case was skipped" });
  }
  return {
    kind: "manifest-summary",
    schema_version: "1",
    suite_id: manifest.suite_id,
    case_count: manifest.cases.length,
    required_count: manifest.required_case_ids.length,
    passed,
    failed: failures.length,
    skipped: skipped.length,
    decision: failures.length === 0 ? "keep" : "kill",
    failures,
    skipped_ids: skipped,
  };
}
