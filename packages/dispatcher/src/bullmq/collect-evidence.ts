import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  checkRelativePath,
  digest,
  digestBytes,
  type ProcessRunner,
  resolveInside,
  writeArtifact,
} from "@dwm/core";
import { type GitPort, qualifiedRef } from "@dwm/executor";
import type { Attempt, AttemptJobResult, AttemptRequest } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import type { RunIdentity } from "../run-identity.js";
import { gitLocal, gitRemote } from "./git-remote.js";
import { evidenceRef, queuedAttemptBranch, workRef } from "./names.js";

export interface CollectEvidenceOptions {
  git: GitPort;
  processRunner: ProcessRunner;
  env: Readonly<Record<string, string | undefined>>;
  /** The coordinator's repository (the run's). */
  repo: string;
  remote: string;
  /** `<runDir>/attempts/<packet>/<n>`: written only after every digest matched. */
  attemptDir: string;
  /** The request as the run loop made it. */
  request: AttemptRequest;
  /** The run and instance the job was enqueued for, and its BullMQ id. */
  run: RunIdentity;
  jobId: string;
  packetDigest: string;
  /** digest of the request as the job carried it. */
  requestDigest: string;
  result: AttemptJobResult;
}

/** Where a result's evidence comes from and what it must match (all but where it goes). */
export type EvidenceSource = Omit<CollectEvidenceOptions, "attemptDir">;

function mismatch(jobId: string, why: string): Error {
  return dispatcherErrors.create("ERR_QUEUE_EVIDENCE_MISMATCH", `job ${jobId}: ${why}`, {
    details: { job_id: jobId },
  });
}

/** Parse `git cat-file --batch` output: `<oid> <type> <size>\n<bytes>\n` per object. */
function parseBatch(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    if (nl < 0) break;
    const [oid = "", type = "", size = ""] = buf.subarray(at, nl).toString("utf8").split(" ");
    if (type === "missing" || size === "") throw new Error(`object ${oid} is missing`);
    const n = Number(size);
    out.set(oid, buf.subarray(nl + 1, nl + 1 + n));
    at = nl + 1 + n + 1;
  }
  return out;
}

/**
 * Check that a result belongs to its job before anything is fetched: the job id and the request
 * it answers (its digest covers the run instance), the attempt's run, packet and number, its
 * packet digest, base commit, prompt and branch, its digest, the evidence ref, and the pushed
 * work. Any difference is ERR_QUEUE_EVIDENCE_MISMATCH.
 */
export function checkResultIdentity(
  o: Pick<CollectEvidenceOptions, "request" | "run" | "jobId" | "packetDigest" | "requestDigest">,
  r: AttemptJobResult,
): void {
  const { request, run, jobId, packetDigest } = o;
  const a = r.attempt;
  if (r.job_id !== jobId) throw mismatch(jobId, `the result is for job ${r.job_id}`);
  if (r.request_digest !== o.requestDigest)
    throw mismatch(jobId, `the result answers request ${r.request_digest}, not ${o.requestDigest}`);
  if (
    a.run_id !== request.run_id ||
    a.packet_id !== request.packet.packet_id ||
    a.attempt !== request.attempt
  ) {
    throw mismatch(jobId, `the attempt is ${a.run_id}/${a.packet_id}/${a.attempt}`);
  }
  if (a.packet_digest !== packetDigest) throw mismatch(jobId, "the attempt names another packet digest");
  if (a.base_commit !== request.base_commit)
    throw mismatch(jobId, "the attempt started from another base commit");
  if (a.prompt_digest !== digestBytes(request.prompt))
    throw mismatch(jobId, "the attempt names another prompt");
  if (digest(a) !== r.attempt_digest)
    throw mismatch(jobId, "attempt_digest is not the digest of the attempt");
  if (a.branch !== null && a.branch !== queuedAttemptBranch(run, a.packet_id, a.attempt))
    throw mismatch(jobId, `the attempt ran on branch ${a.branch}, not this run instance's`);
  if (r.evidence.ref !== evidenceRef(run, a.packet_id, a.attempt))
    throw mismatch(jobId, "unexpected evidence ref");
  const wantWork = a.head_commit !== null && a.branch !== null ? workRef(run, a.packet_id, a.attempt) : null;
  if ((r.branch?.ref ?? null) !== wantWork || (r.branch !== null && r.branch.commit !== a.head_commit)) {
    throw mismatch(jobId, "the pushed work is not the attempt's head commit at its work ref");
  }
}

/**
 * Fetch the evidence ref and the work into the repository (the work as the attempt's ref), and
 * check each landed on the commit the result names.
 */
async function fetchEvidence(o: EvidenceSource, jobId: string): Promise<void> {
  const r = o.result;
  const refspecs = [`+${r.evidence.ref}:${r.evidence.ref}`];
  const branch = r.branch !== null && r.attempt.branch !== null ? qualifiedRef(r.attempt.branch) : null;
  if (r.branch !== null && branch !== null) refspecs.push(`+${r.branch.ref}:${branch}`);
  await gitRemote(
    o.git,
    o.env,
    o.repo,
    ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", o.remote, ...refspecs],
    `fetching the evidence of ${jobId}`,
  );
  const refs = (await gitLocal(o.git, o.repo, ["rev-parse", r.evidence.ref, ...(branch ? [branch] : [])]))
    .trim()
    .split("\n");
  if (refs[0] !== r.evidence.commit)
    throw mismatch(jobId, `${r.evidence.ref} is at ${refs[0]}, not ${r.evidence.commit}`);
  if (r.branch !== null && refs[1] !== r.branch.commit)
    throw mismatch(jobId, `${r.branch.ref} is at ${refs[1]}, not ${r.branch.commit}`);
}

/** `git ls-tree -r -z` output as path → blob oid; anything but a blob is a mismatch. */
export function parseEvidenceTree(listing: string, jobId: string): Map<string, string> {
  const tree = new Map<string, string>();
  for (const line of listing.split("\0")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    const [, type, oid] = line.slice(0, tab).split(" ");
    if (type !== "blob") throw mismatch(jobId, `the evidence holds a ${type} at ${line.slice(tab + 1)}`);
    tree.set(line.slice(tab + 1), oid as string);
  }
  return tree;
}

/**
 * The files the evidence must hold, from attempt.json (path → its entry): exactly those and
 * attempt.json itself, nothing extra, nothing missing (ERR_QUEUE_EVIDENCE_MISMATCH).
 */
export function expectedEvidence(
  attempt: Attempt,
  tree: ReadonlyMap<string, string>,
  jobId: string,
): Map<string, Attempt["files"][number]> {
  const expected = new Map(attempt.files.map((f) => [checkRelativePath(f.path, "evidence file"), f]));
  if (expected.has("attempt.json")) throw mismatch(jobId, "attempt.json lists itself");
  const extra = [...tree.keys()].filter((p) => p !== "attempt.json" && !expected.has(p));
  const missing = [...expected.keys(), "attempt.json"].filter((p) => !tree.has(p));
  if (extra.length > 0 || missing.length > 0) {
    throw mismatch(
      jobId,
      `the evidence tree differs from attempt.json (extra: ${extra.join(", ") || "none"}; missing: ${missing.join(", ") || "none"})`,
    );
  }
  return expected;
}

/** The bytes of every blob of the tree, in one `git cat-file --batch`. */
async function readBlobs(
  o: EvidenceSource,
  tree: ReadonlyMap<string, string>,
  jobId: string,
): Promise<(p: string) => Buffer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-collect-"));
  let blobs: Map<string, Buffer>;
  try {
    const out = path.join(tmp, "batch");
    const res = await o.processRunner.run({
      argv: ["git", "cat-file", "--batch"],
      cwd: o.repo,
      env: { PATH: o.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", LANG: "C", LC_ALL: "C" },
      stdin: `${[...new Set(tree.values())].join("\n")}\n`,
      stdoutFile: out,
      timeoutMs: 600_000,
    });
    if (res.exitCode !== 0) throw mismatch(jobId, `git cat-file failed: ${res.stderr.trim()}`);
    blobs = parseBatch(fs.readFileSync(out));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return (p: string): Buffer => {
    const b = blobs.get(tree.get(p) as string);
    if (b === undefined) throw mismatch(jobId, `${p} could not be read from the evidence commit`);
    return b;
  };
}

/** Every listed file has its digest and size, and attempt.json is the attempt of the result. */
function checkEvidenceBytes(
  expected: ReadonlyMap<string, Attempt["files"][number]>,
  bytesOf: (p: string) => Buffer,
  attemptDigest: string,
  jobId: string,
): void {
  for (const [p, f] of expected) {
    const b = bytesOf(p);
    if (digestBytes(b) !== f.digest || b.length !== f.bytes)
      throw mismatch(jobId, `${p} does not match its digest`);
  }
  let stored: unknown;
  try {
    stored = JSON.parse(bytesOf("attempt.json").toString("utf8"));
  } catch {
    throw mismatch(jobId, "attempt.json in the evidence is not JSON");
  }
  const v = validateSchema("attempt", stored);
  if (!v.ok || digest(stored) !== attemptDigest)
    throw mismatch(jobId, "attempt.json in the evidence is not the attempt of the result");
}

/** Evidence that passed every check, held in memory until it is written into the run store. */
export interface CheckedEvidence {
  attempt: Attempt;
  /** Every file attempt.json lists, by its path in the attempt directory. */
  files: Map<string, Buffer>;
}

/**
 * Coordinator side, first half: check that the result belongs to the job, fetch the evidence
 * commit and the attempt's work from the remote, and check that the evidence tree holds exactly
 * attempt.json and the files attempt.json lists, each with its raw-bytes digest, and that
 * attempt.json is the attempt of the result. Writes nothing into the run store, so several can
 * run at once (the coordinator checks results as their jobs finish). Any difference is
 * ERR_QUEUE_EVIDENCE_MISMATCH.
 */
export async function checkEvidence(o: EvidenceSource): Promise<CheckedEvidence> {
  const r = o.result;
  const jobId = o.jobId;
  checkResultIdentity(o, r);
  await fetchEvidence(o, jobId);
  const listing = await gitLocal(o.git, o.repo, ["ls-tree", "-r", "-z", "--full-tree", r.evidence.commit]);
  const tree = parseEvidenceTree(listing, jobId);
  const expected = expectedEvidence(r.attempt, tree, jobId);
  const bytesOf = await readBlobs(o, tree, jobId);
  checkEvidenceBytes(expected, bytesOf, r.attempt_digest, jobId);
  return { attempt: r.attempt, files: new Map([...expected.keys()].map((p) => [p, bytesOf(p)])) };
}

/**
 * Coordinator side, second half: the checked evidence goes into the run store
 * (`attempts/<packet>/<n>/`, the coordinator being its only writer), and the local evidence ref,
 * which only kept its objects while they were read, goes.
 */
export async function writeEvidence(
  o: Pick<CollectEvidenceOptions, "git" | "repo" | "attemptDir" | "result">,
  checked: CheckedEvidence,
): Promise<Attempt> {
  fs.rmSync(o.attemptDir, { recursive: true, force: true });
  fs.mkdirSync(o.attemptDir, { recursive: true });
  for (const [p, bytes] of checked.files) {
    const dest = resolveInside(o.attemptDir, p, "evidence file");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, bytes);
  }
  writeArtifact(path.join(o.attemptDir, "attempt.json"), "attempt", checked.attempt);
  await o.git.run(o.repo, ["update-ref", "-d", o.result.evidence.ref]);
  return checked.attempt;
}

/**
 * Coordinator side: checkEvidence, then writeEvidence. Any difference is
 * ERR_QUEUE_EVIDENCE_MISMATCH and nothing is written.
 */
export async function collectEvidence(o: CollectEvidenceOptions): Promise<Attempt> {
  return writeEvidence(o, await checkEvidence(o));
}
