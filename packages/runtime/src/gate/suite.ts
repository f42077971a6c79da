// The runtime's manifest gate: each case of fixtures/runtime/manifest.json copies a compiled
// run store, writes a history into its journal through openJournal (a fake clock, a fixed
// runner identity), optionally tampers with files, and then runs one step under test:
// append (the journal's own checks), verify (verifyRun), read (readJournal + foldJournal)
// or open (openJournal again: resume, torn-tail repair, lock). Golden digests cover the
// journal's bytes, the folded state and the verify report.
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, writeFileAtomic } from "@dwm/core";
import type { Gate, RunState, VerifyReport } from "@dwm/schemas";
import {
  type CaseContext,
  copyTree,
  FakeClock,
  type FileTamper,
  type GateCase,
  type GateSuite,
  HistoryPlayer,
  type HistoryStep,
  readJson,
  tamperFiles,
  testTrust,
  treeDigests,
} from "@dwm/test-utils";
import {
  type EventDraft,
  foldJournal,
  JOURNAL_FILE,
  type Journal,
  openJournal,
  readJournal,
  readRun,
  verifyRun,
} from "../index.js";

interface RuntimeCase extends GateCase {
  /** A compiled run store below fixtures/runtime. */
  run: string;
  /** Steps appended through openJournal before the step under test (or as it, for "append"). */
  history?: HistoryStep[];
  /** Leave the writer open (lock held, state.json not saved) when the history is written. */
  keep_open?: boolean;
  /** Changes to the run store's files after the history is written. */
  tamper?: FileTamper[];
  step: "append" | "verify" | "read" | "open";
  /** For "open": the second runner comes this much later, and says whether the first is alive. */
  reopen?: { advance_ms?: number; alive?: boolean };
}

const START = "2026-01-01T00:00:00.000Z";

function playerFor(runDir: string): HistoryPlayer {
  const { run } = readRun(runDir);
  return new HistoryPlayer(run, {
    gatePackets: (id) => readJson<Gate>(path.join(runDir, "gates", `${id}.json`)).packets,
    putFile: (rel, content) => {
      writeFileAtomic(path.join(runDir, rel), content);
      return { path: rel, digest: digestBytes(content) };
    },
  });
}

function stateView(state: RunState): Record<string, unknown> {
  return {
    packets: Object.entries(state.packets).map(([id, p]) => `${id}:${p?.state}`),
    gates: Object.entries(state.gates)
      .filter(([, g]) => g?.state !== "closed")
      .map(([id, g]) => `${id}:${g?.state}`),
    seq: state.seq,
  };
}

function journalDigest(runDir: string): string {
  return digestBytes(fs.readFileSync(path.join(runDir, JOURNAL_FILE)));
}

/** Write the history; for the "append" step, the writing is what the case checks. */
async function writeHistory(c: RuntimeCase, ctx: CaseContext, runDir: string, clock: FakeClock) {
  const journal = openJournal(runDir, { clock, pid: 1, host: "gate-runner" });
  const drafts = playerFor(runDir).expand(c.history ?? []) as EventDraft[];
  const append = () => {
    for (const d of drafts) journal.append(d.type, d.data as never);
    return journal.state;
  };
  const closeIt = () => journal.close();
  if (c.keep_open) ctx.defer(closeIt);
  try {
    return c.step === "append" ? await ctx.outcome(append) : append();
  } finally {
    if (!c.keep_open) closeIt();
  }
}

function checkAppend(ctx: CaseContext, runDir: string, state: RunState): void {
  ctx.checkAll({
    ...stateView(state),
    types: readJournal(runDir).events.map((e) => e.type),
  });
  ctx.golden("journal", journalDigest(runDir));
  ctx.golden("state", digest(state));
}

function checkVerify(ctx: CaseContext, runDir: string): void {
  const before = treeDigests(runDir);
  // The history's approvals and attestations are signed by the test operator (HistoryPlayer).
  const report: VerifyReport = verifyRun(runDir, { trust: testTrust() });
  if (JSON.stringify(treeDigests(runDir)) !== JSON.stringify(before))
    ctx.fail("verifyRun changed the run store");
  ctx.checkAll({
    ok: report.ok,
    problems: report.problems.map((p) => `${p.code} ${p.file}${p.seq === undefined ? "" : `#${p.seq}`}`),
    events: report.events,
    torn: report.torn,
    state_cache: report.state_cache,
    files_checked: report.files_checked,
  });
  ctx.golden("report", digest(report));
}

async function checkRead(ctx: CaseContext, runDir: string): Promise<void> {
  const read = await ctx.outcome(() => {
    const r = readJournal(runDir);
    return { ...r, state: foldJournal(r.events, readRun(runDir).run) };
  });
  if (read === undefined) return;
  ctx.checkAll({ ...stateView(read.state), events: read.events.length, torn: read.torn !== null });
  ctx.golden("state", digest(read.state));
}

async function checkOpen(c: RuntimeCase, ctx: CaseContext, runDir: string, clock: FakeClock): Promise<void> {
  // Lines before the second runner opens (counted without reading: the case may have broken them).
  const seqBefore = fs.readFileSync(path.join(runDir, JOURNAL_FILE), "utf8").split("\n").length - 1;
  clock.advance(c.reopen?.advance_ms ?? 0);
  const alive = c.reopen?.alive ?? false;
  const journal: Journal | undefined = await ctx.outcome(() =>
    openJournal(runDir, { clock, pid: 2, host: "gate-runner-2", isAlive: () => alive }),
  );
  if (journal === undefined) return;
  const repaired = journal.repaired;
  journal.close();
  const events = readJournal(runDir).events;
  ctx.checkAll({
    appended: events.slice(seqBefore).map((e) => e.type),
    repaired: repaired === null ? null : { offset: repaired.offset, bytes: repaired.bytes },
    ...stateView(foldJournal(events, readRun(runDir).run)),
  });
  ctx.golden("journal", journalDigest(runDir));
}

/** The runtime's gate suite. */
export const runtimeGate: GateSuite<RuntimeCase> = {
  name: "runtime",
  caseKeys: ["run", "history", "keep_open", "tamper", "step", "reopen"],
  minCases: 15,
  async runCase(c, ctx) {
    const runDir = path.join(ctx.tmp, "run");
    copyTree(path.join(ctx.fixtures, c.run), runDir);
    const clock = new FakeClock(START, 1000);
    const state = await writeHistory(c, ctx, runDir, clock);
    if (state === undefined) return;
    tamperFiles(runDir, c.tamper);
    if (c.step === "append") checkAppend(ctx, runDir, state);
    else if (c.step === "verify") checkVerify(ctx, runDir);
    else if (c.step === "read") await checkRead(ctx, runDir);
    else await checkOpen(c, ctx, runDir, clock);
  },
};
