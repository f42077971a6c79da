// Tamper detection: one completed repo-audit run store; each trial changes one byte (to a different
// random value) of a random run artifact or of a random journal line, runs `dwm verify`, and puts
// the byte back. Every change must give exit 3 with the changed file named in the report.
// state.json (a cache of the fold, never trusted) and lock (the lease) are not evidence and are
// left out. Most trials call the CLI's `main` in-process; a sample runs the built binary.
// A share of the trials damage the store as a whole instead (issue 22): the journal's last 1-5
// complete lines cut off, the journal deleted, or one evidence file (attempts/, reviews/,
// approvals/, handoffs/) deleted. Each must give exit 3 naming the file, and `dwm approve` must
// refuse to build on it (exit 3).
import fs from "node:fs";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  baseEnv,
  dwmChild,
  dwmInProcess,
  filesUnder,
  type Outcome,
  requireBuiltCli,
  runDir,
  runToCompletion,
} from "./support/dwm.js";
import { exampleRepo } from "./support/repos.js";
import { modeOf, report, SEED, size, suiteRng } from "./support/suite.js";

const TRIALS = size("tamper", 100, 1000);
// Trials through the built binary (a child process each, ~0.5 s); the rest in-process.
const CHILD_TRIALS = Math.min(TRIALS, size("tamper-child", 5, 1000));
const NOT_EVIDENCE = new Set(["state.json", "lock"]);
const EVIDENCE = /^(attempts|reviews|approvals|handoffs)\//;

type Kind = "byte" | "tail-truncation" | "journal-deletion" | "evidence-deletion";

interface Trial {
  trial: number;
  kind: Kind;
  /** Whole-store damage: `dwm approve` refused it with exit 3 (null for byte trials). */
  approve_exit: number | null;
  file: string;
  line: number | null;
  offset: number;
  from: number;
  to: number;
  via: "binary" | "in-process";
  exit: number | null;
  named: boolean;
  codes: string[];
}

const trials: Trial[] = [];
const startedAt = Date.now();
let repo: { path: string; cleanup(): void };
let tmp: { path: string; cleanup(): void };
let runId: string;
let dir: string;

interface VerifyJson {
  ok: boolean;
  problems: { code: string; file: string; seq?: number }[];
}

function parseReport(o: Outcome): VerifyJson {
  return JSON.parse(o.stdout) as VerifyJson;
}

requireBuiltCli();

describe(`tamper detection (${TRIALS} trials, seed ${SEED})`, () => {
  beforeAll(async () => {
    repo = exampleRepo("repo-audit");
    tmp = makeTempDir("dwm-rel-tamper-");
    runId = await runToCompletion(repo.path, baseEnv({ TMPDIR: tmp.path }));
    dir = runDir(repo.path, runId);
  });
  afterAll(() => {
    const byCode: Record<string, number> = {};
    const byKind: Record<string, number> = {};
    for (const t of trials) {
      for (const c of new Set(t.codes)) byCode[c] = (byCode[c] ?? 0) + 1;
      const kind =
        t.kind !== "byte" ? t.kind : t.line !== null ? "journal line" : (t.file.split("/")[0] as string);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    report(
      {
        suite: "tamper",
        mode: modeOf("tamper"),
        seed: SEED,
        counts: {
          trials: trials.length,
          journal_line_trials: trials.filter((t) => t.kind === "byte" && t.line !== null).length,
          artifact_trials: trials.filter((t) => t.kind === "byte" && t.line === null).length,
          tail_truncation_trials: trials.filter((t) => t.kind === "tail-truncation").length,
          journal_deletion_trials: trials.filter((t) => t.kind === "journal-deletion").length,
          evidence_deletion_trials: trials.filter((t) => t.kind === "evidence-deletion").length,
          refused_by_approve: trials.filter((t) => t.approve_exit === 3).length,
          via_binary: trials.filter((t) => t.via === "binary").length,
          detected_exit_3_and_named: trials.filter((t) => t.exit === 3 && t.named).length,
          missed: trials.filter((t) => !(t.exit === 3 && t.named)).length,
          distinct_files_tampered: new Set(trials.map((t) => t.file)).size,
        },
        detail: {
          by_code: byCode,
          by_target: byKind,
          missed: trials.filter((t) => !(t.exit === 3 && t.named)),
        },
      },
      startedAt,
    );
    repo?.cleanup();
    tmp?.cleanup();
  });

  it("the untouched store verifies", async () => {
    const o = await dwmChild(repo.path, ["verify", runId, "--json"], baseEnv());
    expect(o.code).toBe(0);
    expect(parseReport(o).ok).toBe(true);
  });

  it("every single-byte change is detected with exit 3 and the file named", async () => {
    const rng = suiteRng("tamper");
    // A single-byte change needs a byte: empty files (an empty stderr) are left out.
    const files = filesUnder(dir).filter(
      (f) => !NOT_EVIDENCE.has(f) && fs.statSync(path.join(dir, f)).size > 0,
    );
    expect(files.length).toBeGreaterThan(40);
    for (let n = 0; n < TRIALS; n++) {
      // Three in ten trials damage the store as a whole; the rest change one byte.
      const roll = rng.int(10);
      if (roll < 3) {
        const kind = (["tail-truncation", "journal-deletion", "evidence-deletion"] as const)[roll] as Kind;
        const t = await wholeStoreTrial(
          n,
          kind,
          rng.pick(files.filter((f) => EVIDENCE.test(f))),
          rng.range(1, 5),
        );
        trials.push(t);
        expect(t, `trial ${n} (seed ${SEED})`).toMatchObject({ exit: 3, named: true, approve_exit: 3 });
        continue;
      }
      // Half the byte trials hit a journal line, half any other file of the store.
      const onJournal = rng.chance(0.5);
      const rel = onJournal ? "journal.jsonl" : rng.pick(files.filter((f) => f !== "journal.jsonl"));
      const full = path.join(dir, rel);
      const bytes = fs.readFileSync(full);
      let offset: number;
      let line: number | null = null;
      if (onJournal) {
        const starts = [0];
        for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
        line = rng.int(starts.length);
        const from = starts[line] as number;
        const to = (starts[line + 1] ?? bytes.length) - 1; // the line's last byte is its "\n"
        offset = rng.range(from, to);
      } else {
        offset = rng.int(bytes.length);
      }
      const before = bytes[offset] as number;
      const after = (before + 1 + rng.int(255)) % 256;
      const via = n < CHILD_TRIALS ? "binary" : "in-process";
      const changed = Buffer.from(bytes);
      changed[offset] = after;
      fs.writeFileSync(full, changed);
      let o: Outcome;
      try {
        o =
          via === "binary"
            ? await dwmChild(repo.path, ["verify", runId, "--json"], baseEnv())
            : await dwmInProcess(repo.path, ["verify", runId, "--json"]);
      } finally {
        fs.writeFileSync(full, bytes);
      }
      const problems = o.code === 3 ? parseReport(o).problems : [];
      const t: Trial = {
        trial: n,
        kind: "byte",
        approve_exit: null,
        file: rel,
        line: line === null ? null : line + 1,
        offset,
        from: before,
        to: after,
        via,
        exit: o.code,
        named: problems.some((p) => p.file === rel),
        codes: problems.filter((p) => p.file === rel).map((p) => p.code),
      };
      trials.push(t);
      expect(t, `trial ${n} (seed ${SEED})`).toMatchObject({ exit: 3, named: true });
    }
    // Every byte was put back: the store verifies again.
    expect((await dwmInProcess(repo.path, ["verify", runId])).code).toBe(0);
  });
});

/** Damage the whole store one way, verify it (and ask `dwm approve` to build on it), put it back. */
async function wholeStoreTrial(n: number, kind: Kind, evidence: string, cut: number): Promise<Trial> {
  const journalFile = path.join(dir, "journal.jsonl");
  const rel = kind === "evidence-deletion" ? evidence : "journal.jsonl";
  const full = path.join(dir, rel);
  const bytes = fs.readFileSync(full);
  if (kind === "tail-truncation") {
    const lines = bytes.toString("utf8").split("\n").slice(0, -1);
    fs.writeFileSync(journalFile, `${lines.slice(0, -cut).join("\n")}\n`);
  } else {
    fs.rmSync(full);
  }
  let o: Outcome;
  let a: Outcome;
  try {
    o = await dwmInProcess(repo.path, ["verify", runId, "--json"]);
    a = await dwmInProcess(repo.path, ["approve", runId, "human-gate", "--reason", "tamper suite"]);
  } finally {
    fs.writeFileSync(full, bytes);
  }
  const problems = o.code === 3 ? parseReport(o).problems : [];
  return {
    trial: n,
    kind,
    approve_exit: a.code,
    file: rel,
    line: kind === "tail-truncation" ? cut : null,
    offset: 0,
    from: 0,
    to: 0,
    via: "in-process",
    exit: o.code,
    named: problems.some((p) => p.file === rel),
    codes: problems.filter((p) => p.file === rel).map((p) => p.code),
  };
}
