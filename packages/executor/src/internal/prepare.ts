import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkRelativePath, type Digest, digestBytes, isInside } from "@dwm/core";
import { type AttemptRequest, validateSchema } from "@dwm/schemas";
import { executorErrors } from "../errors.js";
import type { GitPort } from "./git.js";
import { type Job, jobsOf } from "./jobs.js";

/** A handoff input with its bytes, checked against its digest. */
export interface DecodedInput {
  artifact: string;
  digest: Digest;
  content: Buffer;
}

/** An attempt request checked in full, and the attempt directory emptied for it. */
export interface PreparedAttempt {
  jobs: Job[];
  inputs: DecodedInput[];
  /** Absolute path of the repository. */
  repo: string;
  /** Absolute path of the attempt directory, empty. */
  attemptDir: string;
  /** The tree of the base commit. */
  baseTree: string;
  /** Real path of the folder worktrees are made in (outside the repository). */
  worktreeRoot: string;
}

function assertRequestValid(request: AttemptRequest): void {
  const valid = validateSchema("attempt-request", request);
  if (valid.ok) return;
  throw executorErrors.create("ERR_EXEC_REQUEST_INVALID", "the attempt request does not match its schema", {
    details: { problems: valid.problems.slice(0, 20) },
  });
}

function decodeInputs(inputs: AttemptRequest["inputs"]): DecodedInput[] {
  return inputs.map((i) => {
    const artifact = checkRelativePath(i.artifact, "handoff input");
    const content = Buffer.from(i.content_base64, "base64");
    const actual = digestBytes(content);
    if (actual !== i.digest) {
      throw executorErrors.create(
        "ERR_EXEC_INPUT_DIGEST",
        `handoff input ${artifact} has digest ${actual}, expected ${i.digest}`,
        { details: { artifact, expected: i.digest, actual } },
      );
    }
    return { artifact, digest: i.digest as Digest, content };
  });
}

/**
 * The repository's top level and the base commit's tree: one git call when both are fine, a
 * second one to tell which is not.
 */
async function checkRepository(
  git: GitPort,
  repo: string,
  baseCommit: string,
): Promise<{ topLevel: string; baseTree: string }> {
  const checked = await git.run(repo, [
    "rev-parse",
    "--show-toplevel",
    "--verify",
    "--quiet",
    `${baseCommit}^{commit}^{tree}`,
  ]);
  const [topLevel = "", baseTree = ""] = checked.exitCode === 0 ? checked.stdout.trim().split("\n") : [];
  if (checked.exitCode !== 0 && (await git.run(repo, ["rev-parse", "--show-toplevel"])).exitCode !== 0) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${repo} is not a git repository`, {
      details: { repo },
    });
  }
  if (checked.exitCode !== 0 || topLevel === "" || baseTree === "") {
    throw executorErrors.create("ERR_EXEC_BASE_COMMIT", `base commit ${baseCommit} is not in ${repo}`, {
      details: { base_commit: baseCommit },
    });
  }
  return { topLevel, baseTree };
}

function checkWorktreeRoot(topLevel: string, root: string | undefined): string {
  const worktreeRoot = fs.realpathSync(root ?? os.tmpdir());
  if (isInside(fs.realpathSync(topLevel), worktreeRoot)) {
    throw executorErrors.create(
      "ERR_EXEC_WORKTREE_ROOT",
      `worktree root ${worktreeRoot} is inside the repository`,
      { details: { worktree_root: worktreeRoot } },
    );
  }
  return worktreeRoot;
}

/**
 * Check everything about a request before anything is written (schema, bindings, input digests,
 * a finished attempt in the way, repository, base commit, worktree root), then empty the attempt
 * directory. Throws the request's ERR_EXEC_... code.
 */
export async function prepareAttempt(
  request: AttemptRequest,
  git: GitPort,
  where: { attemptDir: string; worktreeRoot?: string | undefined },
): Promise<PreparedAttempt> {
  assertRequestValid(request);
  const jobs = jobsOf(request);
  const inputs = decodeInputs(request.inputs);
  const repo = path.resolve(request.repo);
  const attemptDir = path.resolve(where.attemptDir);
  if (fs.existsSync(path.join(attemptDir, "attempt.json"))) {
    throw executorErrors.create("ERR_EXEC_ATTEMPT_EXISTS", `${attemptDir} already holds attempt.json`, {
      details: { attempt: request.attempt, packet_id: request.packet.packet_id },
    });
  }
  const { topLevel, baseTree } = await checkRepository(git, repo, request.base_commit);
  const worktreeRoot = checkWorktreeRoot(topLevel, where.worktreeRoot);
  // An attempt dir without attempt.json is what a crash mid-attempt leaves: start it afresh.
  fs.rmSync(attemptDir, { recursive: true, force: true });
  fs.mkdirSync(attemptDir, { recursive: true });
  return { jobs, inputs, repo, attemptDir, baseTree, worktreeRoot };
}
