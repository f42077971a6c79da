// The reviewer's manifest gate: each case of fixtures/reviewer/manifest.json copies an
// attempt's recorded evidence (attempt.json and its files), changes it as the case says,
// and reviews it with reviewAttempt (a fake clock, an optional scripted reviewer worker).
// The golden digest covers the whole review artifact.
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact } from "@dwm/core";
import type { Attempt, Packet } from "@dwm/schemas";
import {
  applyEdits,
  copyTree,
  FakeClock,
  type GateCase,
  type GateSuite,
  type JsonEdit,
  readJson,
  treeDigests,
} from "@dwm/test-utils";
import { type ReviewerWorkerResult, type ReviewOptions, reviewAttempt } from "../index.js";

interface ReviewerCase extends GateCase {
  /** An attempt folder below fixtures/reviewer (attempt.json and its evidence). */
  attempt: string;
  /** A packet file below fixtures/reviewer. */
  packet: string;
  packet_edits?: JsonEdit[];
  attempt_edits?: JsonEdit[];
  /** Evidence files to write (text) or delete (null), relative to the attempt folder. */
  files?: Record<string, string | null>;
  /**
   * Bring attempt.json's file list, output digests and packet digest in line with the files
   * and packet (default true); false leaves them as they were, as a tampered store would.
   */
  reseal?: boolean;
  unverifiable?: ReviewOptions["unverifiable"];
  /** A scripted reviewer worker: its answer, or "throws". */
  worker?: ReviewerWorkerResult | "throws";
}

function writeFiles(dir: string, files: Record<string, string | null> = {}): void {
  for (const [rel, content] of Object.entries(files)) {
    const f = path.join(dir, rel);
    if (content === null) fs.rmSync(f, { force: true });
    else {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, content);
    }
  }
}

/** attempt.json's evidence list, as the executor would have written it for these files. */
function reseal(attempt: Attempt, dir: string, packet: Packet): Attempt {
  const files = treeDigests(dir, ["attempt.json"]);
  const bytes = (rel: string) => fs.statSync(path.join(dir, rel)).size;
  return {
    ...attempt,
    packet_digest: digest(packet),
    files: Object.entries(files).map(([p, d]) => ({
      path: p,
      digest: d as Attempt["files"][number]["digest"],
      bytes: bytes(p),
    })),
    outputs: attempt.outputs.map((o) =>
      o.path !== null && files[o.path]
        ? { ...o, digest: files[o.path] as typeof o.digest, bytes: bytes(o.path) }
        : o,
    ),
  };
}

function workerPort(w: ReviewerCase["worker"]): ReviewOptions["runReviewerWorker"] {
  if (w === undefined) return undefined;
  return async () => {
    if (w === "throws") throw new Error("the reviewer worker's backend is not installed");
    return w;
  };
}

/** The reviewer's gate suite. */
export const reviewerGate: GateSuite<ReviewerCase> = {
  name: "reviewer",
  caseKeys: [
    "attempt",
    "packet",
    "packet_edits",
    "attempt_edits",
    "files",
    "reseal",
    "unverifiable",
    "worker",
  ],
  minCases: 15,
  async runCase(c, ctx) {
    const dir = path.join(ctx.tmp, "attempt");
    copyTree(path.join(ctx.fixtures, c.attempt), dir);
    const packet = applyEdits(readJson<Packet>(path.join(ctx.fixtures, c.packet)), c.packet_edits);
    writeFiles(dir, c.files);
    let attempt = applyEdits(readJson<Attempt>(path.join(dir, "attempt.json")), c.attempt_edits);
    if (c.reseal !== false) attempt = reseal(attempt, dir, packet);
    fs.writeFileSync(path.join(dir, "attempt.json"), renderArtifact(attempt));
    const before = treeDigests(dir);
    const options: ReviewOptions = {
      attemptDir: dir,
      clock: new FakeClock("2026-02-03T04:05:06.000Z"),
      runReviewerWorker: workerPort(c.worker),
      unverifiable: c.unverifiable,
    };
    const review = await ctx.outcome(() => reviewAttempt(packet, attempt, options));
    if (JSON.stringify(treeDigests(dir)) !== JSON.stringify(before))
      ctx.fail("reviewAttempt changed the evidence");
    if (review === undefined) return;
    ctx.checkAll({
      verdict: review.verdict,
      findings: review.findings.map((f) => `${f.code}:${f.effect}`),
      checks: review.checks.map((k) => `${k.id}=${k.status}`),
      handoffs: review.handoffs.map((h) => `${h.artifact}@${h.digest}`),
      attempt_digest: review.attempt_digest === digest(attempt),
    });
    // The reviewer's version changes with every release, not the review's form.
    ctx.golden("review", digest({ ...review, reviewer_version: "<version>" }));
    ctx.golden("attempt", digestBytes(fs.readFileSync(path.join(dir, "attempt.json"))));
  },
};
