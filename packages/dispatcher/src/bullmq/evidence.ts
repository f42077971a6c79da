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
import { DWM_GIT_IDENTITY, type GitPort } from "@dwm/executor";
import type { Attempt, AttemptJobResult, AttemptRequest } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import { attemptJobId, evidenceRef } from "./names.js";

/** Variables git needs to reach a remote over SSH or with a credential helper, passed through when set. */
const REMOTE_ENV_NAMES = ["SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_ASKPASS", "XDG_CONFIG_HOME"];

/** The environment extras git gets for fetch and push (on top of the executor's PATH/HOME/LANG). */
export function remoteEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of REMOTE_ENV_NAMES) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** Git with the remote environment; a failure is ERR_QUEUE_REMOTE_FAILED with git's message. */
export async function gitRemote(
  git: GitPort,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  args: readonly string[],
  what: string,
): Promise<string> {
  const r = await git.run(cwd, args, { env: remoteEnv(env) });
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      `${what}: ${r.stderr.trim().slice(-600) || `git exited ${r.exitCode}`}`,
      {
        details: { args: args.filter((a) => !a.includes("@")).slice(0, 3) },
      },
    );
  }
  return r.stdout;
}

async function gitLocal(
  git: GitPort,
  cwd: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<string> {
  const r = await git.run(cwd, args, env ? { env } : {});
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      `git ${args[0]} failed: ${r.stderr.trim().slice(-600)}`,
    );
  }
  return r.stdout;
}

function walk(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...walk(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

function chunks<T>(list: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

/** Git's internal date format from an RFC 3339 time (whole seconds, UTC). */
function gitDate(iso: string): string {
  return `${Math.floor(Date.parse(iso) / 1000)} +0000`;
}

export interface PublishEvidenceOptions {
  git: GitPort;
  env: Readonly<Record<string, string | undefined>>;
  /** The worker's local clone of the remote (where runAttempt made the attempt branch). */
  repo: string;
  remote: string;
  attemptDir: string;
  attempt: Attempt;
}

/**
 * Worker side: the attempt directory becomes one commit (its tree holds every file, raw bytes,
 * no filters), pushed to `refs/dwm/evidence/<run>/<packet>/<n>` together with the attempt
 * branch in one push. Returns the refs and commits for the job result.
 */
export async function publishEvidence(
  o: PublishEvidenceOptions,
): Promise<Pick<AttemptJobResult, "evidence" | "branch">> {
  const a = o.attempt;
  const files = walk(o.attemptDir);
  const oids: string[] = [];
  for (const part of chunks(files, 200)) {
    const out = await gitLocal(o.git, o.repo, [
      "hash-object",
      "-w",
      "--no-filters",
      "--",
      ...part.map((f) => path.join(o.attemptDir, f)),
    ]);
    oids.push(...out.trim().split("\n"));
  }
  if (oids.length !== files.length) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      "git hash-object did not hash every evidence file",
    );
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-evidence-"));
  let commit: string;
  try {
    const indexEnv = { GIT_INDEX_FILE: path.join(tmp, "index") };
    const entries = files.map((f, i) => `100644,${oids[i]},${f}`);
    for (const part of chunks(entries, 200)) {
      await gitLocal(
        o.git,
        o.repo,
        ["update-index", "--add", ...part.flatMap((e) => ["--cacheinfo", e])],
        indexEnv,
      );
    }
    const tree = (await gitLocal(o.git, o.repo, ["write-tree"], indexEnv)).trim();
    const date = gitDate(a.finished_at);
    const message = `dwm evidence: ${attemptJobId(a.run_id, a.packet_id, a.attempt)}\n\nattempt: ${digest(a)}\noutcome: ${a.outcome}\n`;
    commit = (
      await gitLocal(o.git, o.repo, ["commit-tree", tree, "-m", message], {
        GIT_AUTHOR_NAME: DWM_GIT_IDENTITY.name,
        GIT_AUTHOR_EMAIL: DWM_GIT_IDENTITY.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_NAME: DWM_GIT_IDENTITY.name,
        GIT_COMMITTER_EMAIL: DWM_GIT_IDENTITY.email,
        GIT_COMMITTER_DATE: date,
      })
    ).trim();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const ref = evidenceRef(a.run_id, a.packet_id, a.attempt);
  const refspecs = [`+${commit}:${ref}`];
  let branch: AttemptJobResult["branch"] = null;
  if (a.head_commit !== null && a.branch !== null) {
    branch = { ref: `refs/heads/${a.branch}`, commit: a.head_commit };
    refspecs.push(`+${a.head_commit}:${branch.ref}`);
  }
  await gitRemote(
    o.git,
    o.env,
    o.repo,
    ["push", "--quiet", "--no-verify", o.remote, ...refspecs],
    "pushing the attempt branch and evidence",
  );
  return { evidence: { ref, commit }, branch };
}

export interface CollectEvidenceOptions {
  git: GitPort;
  processRunner: ProcessRunner;
  env: Readonly<Record<string, string | undefined>>;
  /** The coordinator's repository (the run's). */
  repo: string;
  remote: string;
  /** `<runDir>/attempts/<packet>/<n>`: written only after every digest matched. */
  attemptDir: string;
  request: AttemptRequest;
  packetDigest: string;
  result: AttemptJobResult;
}

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
 * Coordinator side: fetch the evidence commit and the attempt branch from the remote, check
 * that the result belongs to the job, that the evidence tree holds exactly attempt.json and the
 * files attempt.json lists, each with its raw-bytes digest, and that attempt.json is the
 * attempt of the result; only then write the files into the run store. Any difference is
 * ERR_QUEUE_EVIDENCE_MISMATCH and nothing is written.
 */
export async function collectEvidence(o: CollectEvidenceOptions): Promise<Attempt> {
  const r = o.result;
  const a = r.attempt;
  const q = o.request;
  const jobId = attemptJobId(q.run_id, q.packet.packet_id, q.attempt);
  if (r.job_id !== jobId) throw mismatch(jobId, `the result is for job ${r.job_id}`);
  if (a.run_id !== q.run_id || a.packet_id !== q.packet.packet_id || a.attempt !== q.attempt) {
    throw mismatch(jobId, `the attempt is ${a.run_id}/${a.packet_id}/${a.attempt}`);
  }
  if (a.packet_digest !== o.packetDigest) throw mismatch(jobId, "the attempt names another packet digest");
  if (a.base_commit !== q.base_commit) throw mismatch(jobId, "the attempt started from another base commit");
  if (a.prompt_digest !== digestBytes(q.prompt)) throw mismatch(jobId, "the attempt names another prompt");
  if (digest(a) !== r.attempt_digest)
    throw mismatch(jobId, "attempt_digest is not the digest of the attempt");
  if (r.evidence.ref !== evidenceRef(a.run_id, a.packet_id, a.attempt))
    throw mismatch(jobId, "unexpected evidence ref");
  const wantBranch = a.head_commit !== null && a.branch !== null ? `refs/heads/${a.branch}` : null;
  if ((r.branch?.ref ?? null) !== wantBranch || (r.branch !== null && r.branch.commit !== a.head_commit)) {
    throw mismatch(jobId, "the pushed branch is not the attempt's branch and head commit");
  }

  const refspecs = [`+${r.evidence.ref}:${r.evidence.ref}`];
  if (r.branch !== null) refspecs.push(`+${r.branch.ref}:${r.branch.ref}`);
  await gitRemote(
    o.git,
    o.env,
    o.repo,
    ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", o.remote, ...refspecs],
    `fetching the evidence of ${jobId}`,
  );
  const refs = (
    await gitLocal(o.git, o.repo, ["rev-parse", r.evidence.ref, ...(r.branch ? [r.branch.ref] : [])])
  )
    .trim()
    .split("\n");
  if (refs[0] !== r.evidence.commit)
    throw mismatch(jobId, `${r.evidence.ref} is at ${refs[0]}, not ${r.evidence.commit}`);
  if (r.branch !== null && refs[1] !== r.branch.commit)
    throw mismatch(jobId, `${r.branch.ref} is at ${refs[1]}, not ${r.branch.commit}`);

  const listing = await gitLocal(o.git, o.repo, ["ls-tree", "-r", "-z", "--full-tree", r.evidence.commit]);
  const tree = new Map<string, string>();
  for (const line of listing.split("\0")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    const [, type, oid] = line.slice(0, tab).split(" ");
    if (type !== "blob") throw mismatch(jobId, `the evidence holds a ${type} at ${line.slice(tab + 1)}`);
    tree.set(line.slice(tab + 1), oid as string);
  }
  const expected = new Map(a.files.map((f) => [checkRelativePath(f.path, "evidence file"), f]));
  if (expected.has("attempt.json")) throw mismatch(jobId, "attempt.json lists itself");
  const extra = [...tree.keys()].filter((p) => p !== "attempt.json" && !expected.has(p));
  const missing = [...expected.keys(), "attempt.json"].filter((p) => !tree.has(p));
  if (extra.length > 0 || missing.length > 0) {
    throw mismatch(
      jobId,
      `the evidence tree differs from attempt.json (extra: ${extra.join(", ") || "none"}; missing: ${missing.join(", ") || "none"})`,
    );
  }

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
  const bytesOf = (p: string): Buffer => {
    const b = blobs.get(tree.get(p) as string);
    if (b === undefined) throw mismatch(jobId, `${p} could not be read from the evidence commit`);
    return b;
  };
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
  if (!v.ok || digest(stored) !== r.attempt_digest)
    throw mismatch(jobId, "attempt.json in the evidence is not the attempt of the result");

  // Every check passed: the run store gets the files (the coordinator is its only writer).
  fs.rmSync(o.attemptDir, { recursive: true, force: true });
  fs.mkdirSync(o.attemptDir, { recursive: true });
  for (const p of expected.keys()) {
    const dest = resolveInside(o.attemptDir, p, "evidence file");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, bytesOf(p));
  }
  writeArtifact(path.join(o.attemptDir, "attempt.json"), "attempt", a);
  return a;
}
