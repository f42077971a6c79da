import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { digest, gitDate } from "@dwm/core";
import { DWM_GIT_IDENTITY, type GitPort, qualifiedRef } from "@dwm/executor";
import type { Attempt, AttemptJobResult } from "@dwm/schemas";
import { dispatcherErrors } from "../errors.js";
import type { RunIdentity } from "../run-identity.js";
import { gitLocal, gitRemote } from "./git-remote.js";
import { evidenceRef, jobIdOf, workRef } from "./names.js";

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

export interface PublishEvidenceOptions {
  git: GitPort;
  env: Readonly<Record<string, string | undefined>>;
  /** The worker's local clone of the remote (where runAttempt made the attempt branch). */
  repo: string;
  remote: string;
  /** The run and instance of the job: the refs pushed are theirs. */
  run: RunIdentity;
  /** The job's request digest (named in the evidence commit). */
  requestDigest: string;
  attemptDir: string;
  attempt: Attempt;
}

/**
 * Worker side: the attempt directory becomes one commit (its tree holds every file, raw bytes,
 * no filters), pushed to `refs/dwm/<run>/<instance>/evidence/<packet>/<n>` together with the
 * attempt's work (`…/work/<packet>/<n>`) in one push; the local branch goes once pushed. Returns
 * the refs and commits for the job result.
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
    const message = `dwm evidence: ${jobIdOf(o.run, a.packet_id, a.attempt)}\n\nrequest: ${o.requestDigest}\nattempt: ${digest(a)}\noutcome: ${a.outcome}\n`;
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
  const ref = evidenceRef(o.run, a.packet_id, a.attempt);
  const refspecs = [`+${commit}:${ref}`];
  let branch: AttemptJobResult["branch"] = null;
  if (a.head_commit !== null && a.branch !== null) {
    branch = { ref: workRef(o.run, a.packet_id, a.attempt), commit: a.head_commit };
    refspecs.push(`+${a.head_commit}:${branch.ref}`);
  }
  await gitRemote(
    o.git,
    o.env,
    o.repo,
    ["push", "--quiet", "--no-verify", o.remote, ...refspecs],
    "pushing the attempt's work and evidence",
  );
  // The worker's clone keeps no ref per attempt: the remote has the work now.
  if (a.branch !== null) await o.git.run(o.repo, ["update-ref", "-d", qualifiedRef(a.branch)]);
  return { evidence: { ref, commit }, branch };
}
