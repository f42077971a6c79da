import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, isDwmError, renderArtifact, resolveInside } from "@dwm/core";
import type { JournalEvent, Run, VerifyProblem, VerifyReport } from "@dwm/schemas";
import { SCHEMA_NAMES, type SchemaName, validateSchema } from "@dwm/schemas";
import { JOURNAL_FILE, scanJournal } from "./events.js";
import { foldJournal } from "./fold.js";
import { LOCK_FILE, RUN_FILE, STATE_FILE, stateCacheStatus } from "./journal.js";

/** Files every run store may hold that nothing else names. */
const EXEMPT = new Set([
  RUN_FILE,
  JOURNAL_FILE,
  STATE_FILE,
  LOCK_FILE,
  ".dwm-run",
  "plan.json",
  "scorecard.json",
]);

type Expected = { digest: string; seq?: number };

/** `files: [{path, digest}]` of an event's data, if it has them. */
function namedFiles(ev: JournalEvent): { path: string; digest: string }[] {
  const files = (ev.data as { files?: unknown }).files;
  if (!Array.isArray(files)) return [];
  return files.filter(
    (f): f is { path: string; digest: string } =>
      typeof f === "object" && f !== null && typeof f.path === "string" && typeof f.digest === "string",
  );
}

function hasSchema(name: string): name is SchemaName {
  return (SCHEMA_NAMES as readonly string[]).includes(name);
}

class Checker {
  readonly problems: VerifyProblem[] = [];
  filesChecked = 0;
  constructor(readonly runDir: string) {}

  add(code: string, file: string, message: string, extra: Partial<VerifyProblem> = {}): void {
    this.problems.push({ code, file, message, repairable: false, ...extra });
  }

  /** Bytes of a run-store file, or null after reporting why not. Never follows a symlink. */
  read(rel: string, seq?: number): Buffer | null {
    const at = seq === undefined ? {} : { seq };
    let full: string;
    try {
      full = resolveInside(this.runDir, rel, "run-store path");
    } catch (e) {
      const code =
        isDwmError(e) && e.code === "ERR_OUT_PATH_SYMLINK" ? "ERR_VERIFY_SYMLINK" : "ERR_VERIFY_FILE_MISSING";
      this.add(code, rel, isDwmError(e) ? e.message : String(e), at);
      return null;
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(full);
    } catch {
      this.add("ERR_VERIFY_FILE_MISSING", rel, `${rel} is missing`, at);
      return null;
    }
    if (!st.isFile()) {
      this.add("ERR_VERIFY_FILE_MISSING", rel, `${rel} is not a regular file`, at);
      return null;
    }
    this.filesChecked++;
    return fs.readFileSync(full);
  }

  /** A raw file whose bytes must have `expected` digest. */
  bytes(rel: string, expected: string, seq?: number): void {
    const buf = this.read(rel, seq);
    if (buf === null) return;
    const actual = digestBytes(buf);
    if (actual !== expected) {
      this.add("ERR_VERIFY_FILE_DIGEST", rel, `${rel} does not match the digest recorded for it`, {
        expected,
        actual,
        ...(seq === undefined ? {} : { seq }),
      });
    }
  }

  /** A JSON artifact: parses, matches its schema (when DWM has it), has the digest, is canonically rendered. */
  json(rel: string, schema: string | null, expected: string | null): unknown {
    const buf = this.read(rel);
    if (buf === null) return undefined;
    const text = buf.toString("utf8");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.add("ERR_VERIFY_FILE_PARSE", rel, `${rel} is not valid JSON: ${(e as Error).message}`);
      return undefined;
    }
    if (schema !== null && hasSchema(schema)) {
      const v = validateSchema(schema, value);
      if (!v.ok) {
        const first = v.problems[0];
        this.add(
          "ERR_VERIFY_FILE_SCHEMA",
          rel,
          `${rel} does not match schema ${schema}: ${first ? `${first.pointer || "/"} ${first.message}` : ""}`,
        );
        return undefined;
      }
    }
    let actual: string;
    try {
      actual = digest(value);
    } catch (e) {
      this.add("ERR_VERIFY_FILE_PARSE", rel, `${rel} cannot be canonicalised: ${(e as Error).message}`);
      return undefined;
    }
    if (expected !== null && actual !== expected) {
      this.add("ERR_VERIFY_FILE_DIGEST", rel, `${rel} does not match the digest recorded for it`, {
        expected,
        actual,
      });
    }
    if (renderArtifact(value) !== text) {
      this.add("ERR_VERIFY_FILE_NOT_CANONICAL", rel, `${rel} is not in canonical rendering`);
    }
    return value;
  }
}

/** Every file and symlink under `dir`, as sorted POSIX paths relative to it. */
function walk(dir: string, rel = ""): { path: string; symlink: boolean }[] {
  const out: { path: string; symlink: boolean }[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymbolicLink()) out.push({ path: p, symlink: true });
    else if (e.isDirectory()) out.push(...walk(dir, p));
    else out.push({ path: p, symlink: false });
  }
  return out;
}

/**
 * Check a run store without writing anything: run.json against the run digest the
 * journal last recorded; the journal's every line (schema, canonical form, digest,
 * seq, chain) and its history (fold); plan.json and scorecard.json against run.json;
 * every packet, prompt and gate of run.json's index; every file a journal event names
 * in `data.files` (sha256 of its bytes; the latest naming of a path wins); and no
 * file that nothing names. Every problem is reported, not just the first.
 */
export function verifyRun(runDir: string): VerifyReport {
  const dir = path.resolve(runDir);
  const c = new Checker(dir);
  const run = c.json(RUN_FILE, "run", null) as Run | undefined;
  const runDigest = run === undefined ? null : digest(run);

  const journalBuf = fs.existsSync(path.join(dir, JOURNAL_FILE)) ? c.read(JOURNAL_FILE) : null;
  const scan = scanJournal(journalBuf ?? Buffer.alloc(0));
  c.problems.push(...scan.problems);
  const events = scan.events;

  const lastRunEvent = events.findLast((e) => e.type === "run.opened" || e.type === "run.recompiled");
  if (run !== undefined && lastRunEvent !== undefined) {
    const d = lastRunEvent.data as { run_digest: string; plan_digest: string };
    if (d.run_digest !== runDigest) {
      c.add(
        "ERR_VERIFY_RUN_DIGEST",
        RUN_FILE,
        `run.json is not the run.json the journal last recorded (event ${lastRunEvent.seq})`,
        {
          expected: d.run_digest,
          actual: runDigest ?? "",
          seq: lastRunEvent.seq,
        },
      );
    }
  }
  const journalIntact = scan.problems.every((p) => p.repairable) && scan.lines === events.length;
  if (run !== undefined && journalIntact) {
    try {
      foldJournal(events, run);
    } catch (e) {
      const seq = isDwmError(e) && typeof e.details?.seq === "number" ? { seq: e.details.seq } : {};
      c.add("ERR_VERIFY_STATE", JOURNAL_FILE, isDwmError(e) ? e.message : String(e), seq);
    }
  }

  const expected = new Map<string, Expected>();
  if (run !== undefined) {
    const marker = c.json(".dwm-run", "run-marker", null) as { run_id?: unknown } | undefined;
    if (marker !== undefined && marker.run_id !== run.run_id) {
      c.add(
        "ERR_VERIFY_FILE_SCHEMA",
        ".dwm-run",
        `the run marker names run ${String(marker.run_id)}, not ${run.run_id}`,
        {
          expected: run.run_id,
          actual: String(marker.run_id),
        },
      );
    }
    c.json("plan.json", null, run.plan_digest);
    c.json("scorecard.json", "scorecard", run.scorecard_digest);
    for (const p of run.packets) {
      const rel = `packets/${p.packet_id}.json`;
      expected.set(rel, { digest: p.digest });
      c.json(rel, "packet", p.digest);
      const prompt = `prompts/${p.packet_id}.md`;
      expected.set(prompt, { digest: p.prompt_digest });
      c.bytes(prompt, p.prompt_digest);
    }
    for (const g of run.gates) {
      const rel = `gates/${g.gate_id}.json`;
      expected.set(rel, { digest: g.digest });
      c.json(rel, "gate", g.digest);
    }
  }
  const named = new Map<string, Expected>();
  for (const ev of events)
    for (const f of namedFiles(ev)) named.set(f.path, { digest: f.digest, seq: ev.seq });
  for (const [rel, e] of named) {
    c.bytes(rel, e.digest, e.seq);
    expected.set(rel, e);
  }

  for (const entry of walk(dir)) {
    if (entry.symlink) {
      c.add("ERR_VERIFY_SYMLINK", entry.path, `${entry.path} is a symbolic link`);
    } else if (!EXEMPT.has(entry.path) && !expected.has(entry.path)) {
      c.add(
        "ERR_VERIFY_UNEXPECTED_FILE",
        entry.path,
        `${entry.path} is not named by run.json or the journal`,
      );
    }
  }

  const last = events.at(-1);
  const head = journalIntact && last ? last.digest : null;
  return {
    kind: "verify-report",
    schema_version: "1",
    run_id: run?.run_id ?? null,
    ok: c.problems.length === 0,
    events: scan.lines,
    head,
    torn: scan.torn !== null,
    files_checked: c.filesChecked,
    state_cache: stateCacheStatus(dir, last?.seq ?? 0, last?.digest ?? null),
    problems: c.problems,
  };
}
