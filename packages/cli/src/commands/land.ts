import fs from "node:fs";
import { nodeProcessRunner } from "@dwm/core";
import { integrationBranch } from "@dwm/dispatcher";
import { createGit, type GitPort } from "@dwm/executor";
import { isControlFile } from "@dwm/reviewer";
import { foldJournal, readJournal, readRun } from "@dwm/runtime";
import type { LandResult } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { commitOf, currentBranch, integrationCommitOf, isAncestor } from "../internal/landing.js";
import { checkBeforeChange } from "../internal/preflight.js";
import { type ResolvedRun, repoRoot, resolveRun } from "../run-arg.js";

type Mode = "default" | "ff-only" | "merge";
type How = LandResult["how"];

/** What is landed: the run, its integration branch and the commit the journal says it holds. */
interface Source {
  runId: string;
  ref: string;
  branch: string;
  commit: string;
  /** The branch the run started from (run.opened), else null. */
  startBranch: string | null;
  /** The commit the run started from (what its workers changed is the diff from here), else null. */
  base: string | null;
}

/** Where it is landed: the branch, its commit now, and whether it is checked out here. */
interface Target {
  into: string;
  tip: string | null;
  checkedOut: boolean;
}

function modeOf(args: ParsedArgs): Mode {
  const ff = args.values["ff-only"] === true;
  const merge = args.values.merge === true;
  if (ff && merge) throw cliErrors.create("ERR_CLI_USAGE", "--ff-only and --merge exclude each other");
  return ff ? "ff-only" : merge ? "merge" : "default";
}

async function gitOut(git: GitPort, repo: string, argv: string[]): Promise<string> {
  const r = await git.run(repo, argv);
  if (r.exitCode !== 0) {
    throw cliErrors.create(
      "ERR_LAND_GIT_FAILED",
      `git ${argv.slice(0, 2).join(" ")} failed (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
      { details: { argv, stderr: r.stderr.slice(-2000) } },
    );
  }
  return r.stdout;
}

/**
 * A run that may be landed: its store passes the check every changing command makes (else
 * ERR_CLI_STORE_DAMAGED, exit 3), and then verifies whole (landing repairs nothing, so what that
 * check lets a runner continue past, crash leftovers or an unattested packet, also refuses), it
 * is complete, and its integration branch holds what the journal recorded.
 */
async function landable(r: ResolvedRun, git: GitPort, repo: string): Promise<Source> {
  const verify = checkBeforeChange(r.runDir, "land", r.ref);
  if (!verify.ok) {
    throw cliErrors.create(
      "ERR_LAND_NOT_VERIFIED",
      `run ${r.runId} fails verification (${verify.problems.length} problem(s), first ${verify.problems[0]?.code ?? "-"}): nothing of it is landed`,
      { details: { codes: [...new Set(verify.problems.map((p) => p.code))] } },
    );
  }
  const { run } = readRun(r.runDir);
  const events = readJournal(r.runDir).events;
  const state = foldJournal(events, run);
  if (!state.completed) {
    throw cliErrors.create("ERR_LAND_NOT_COMPLETE", `run ${r.runId} is not complete`, {
      hint: `See what it waits for: dwm status ${r.ref}`,
    });
  }
  const branch = integrationBranch(r.runId);
  const commit = integrationCommitOf(events, run.base_commit);
  const held = await commitOf(git, repo, `refs/heads/${branch}`);
  if (commit === null || (held !== commit && !(held === null && commit === run.base_commit))) {
    throw cliErrors.create(
      "ERR_LAND_NOT_VERIFIED",
      `${branch} is at ${held ?? "nothing"}, not at ${commit ?? "a commit"}, the last merge run ${r.runId} journaled: it changed after the run`,
      { details: { branch, held, journaled: commit } },
    );
  }
  return {
    runId: r.runId,
    ref: r.ref,
    branch,
    commit,
    startBranch: state.branch ?? null,
    base: run.base_commit,
  };
}

/** The branch to land into, checked: not checked out in another worktree; here, with a clean working tree. */
async function targetOf(args: ParsedArgs, src: Source, git: GitPort, repo: string): Promise<Target> {
  const into = typeof args.values.into === "string" ? args.values.into : src.startBranch;
  if (into === null) {
    const here = await currentBranch(git, repo);
    throw cliErrors.create("ERR_LAND_NO_BRANCH", `run ${src.runId} recorded no branch it started from`, {
      hint: `Name the branch: dwm land ${src.ref} --into ${here ?? "BRANCH"}`,
    });
  }
  if ((await git.run(repo, ["check-ref-format", "--branch", into])).exitCode !== 0)
    throw cliErrors.create("ERR_CLI_USAGE", `--into ${JSON.stringify(into)} is not a branch name`);
  const checkedOut = (await currentBranch(git, repo)) === into;
  const elsewhere = await checkedOutElsewhere(git, repo, into);
  if (elsewhere !== null) {
    throw cliErrors.create("ERR_LAND_CHECKED_OUT_ELSEWHERE", `${into} is checked out in ${elsewhere}`, {
      hint: `Run dwm land ${src.ref} in ${elsewhere}, or pass --into another branch.`,
      details: { worktree: elsewhere },
    });
  }
  if (checkedOut) {
    const dirty = await gitOut(git, repo, ["status", "--porcelain", "--untracked-files=no"]);
    if (dirty.trim() !== "") {
      throw cliErrors.create("ERR_LAND_DIRTY", `${into} is checked out here with uncommitted changes`, {
        details: { changed: dirty.trim().split("\n").slice(0, 20) },
      });
    }
  }
  return { into, tip: await commitOf(git, repo, `refs/heads/${into}`), checkedOut };
}

/** The worktree other than `repo` that has `branch` checked out, or null. */
async function checkedOutElsewhere(git: GitPort, repo: string, branch: string): Promise<string | null> {
  const list = await gitOut(git, repo, ["worktree", "list", "--porcelain", "-z"]);
  const here = fs.realpathSync(repo);
  let wt: string | null = null;
  for (const field of list.split("\0")) {
    if (field.startsWith("worktree ")) wt = field.slice("worktree ".length);
    else if (field === `branch refs/heads/${branch}` && wt !== null && fs.realpathSync(wt) !== here)
      return wt;
  }
  return null;
}

/** How to land, and the commit the branch then points at (a merge commit is made here, not yet referenced). */
async function stepOf(
  git: GitPort,
  repo: string,
  src: Source,
  t: Target,
  mode: Mode,
): Promise<{ how: How; after: string }> {
  if (t.tip === null) return { how: "created", after: src.commit };
  if (await isAncestor(git, repo, src.commit, t.tip)) return { how: "already", after: t.tip };
  const fastForward = await isAncestor(git, repo, t.tip, src.commit);
  if (fastForward && mode !== "merge") return { how: "fast-forward", after: src.commit };
  if (mode === "ff-only") {
    throw cliErrors.create(
      "ERR_LAND_NOT_FAST_FORWARD",
      `${t.into} moved on since run ${src.runId} started: its result lands only with a merge`,
      { hint: `Record a merge commit: dwm land ${src.ref} --into ${t.into} --merge` },
    );
  }
  return { how: "merge", after: await mergeCommit(git, repo, src, t.into, t.tip) };
}

/** A merge commit of the branch and the run's result, made without a working tree (the user's git identity). */
async function mergeCommit(
  git: GitPort,
  repo: string,
  src: Source,
  into: string,
  tip: string,
): Promise<string> {
  const argv = ["merge-tree", "--write-tree", "--no-messages", "--name-only", "-z", tip, src.commit];
  const mt = await git.run(repo, argv);
  const fields = mt.stdout.split("\0");
  if (mt.exitCode === 1) {
    const paths = [...new Set(fields.slice(1).filter((f) => f !== ""))].sort();
    throw cliErrors.create(
      "ERR_LAND_CONFLICT",
      `run ${src.runId}'s result conflicts with ${into} in ${paths.slice(0, 10).join(", ")}${paths.length > 10 ? ` and ${paths.length - 10} more` : ""}`,
      {
        hint: `Merge it by hand: git switch ${into} && git merge ${src.branch}, resolve the conflicts and commit.`,
        details: { paths },
      },
    );
  }
  if (mt.exitCode !== 0) await gitOut(git, repo, argv);
  const tree = (fields[0] ?? "").trim();
  const message = `Land DWM run ${src.runId}\n\nMerge ${src.branch} (${src.commit}) into ${into}.\n`;
  return (await gitOut(git, repo, ["commit-tree", tree, "-p", tip, "-p", src.commit, "-m", message])).trim();
}

/**
 * DWM's control files the run's result changes (from the commit it started from): a worker that
 * adds a trusted key, a policy or a binding would have them trusted by every later run once landed.
 * Every review already stopped such a change for a human; landing it is a second, explicit decision:
 * refused without --allow-control-files (ERR_LAND_CONTROL_FILES), a warning with it.
 */
async function controlFileChanges(git: GitPort, repo: string, src: Source): Promise<string[]> {
  // A run without a base commit started from nothing: every file of its result is its change.
  const from = src.base ?? (await gitOut(git, repo, ["hash-object", "-t", "tree", "/dev/null"])).trim();
  const out = await gitOut(git, repo, ["diff", "--name-only", "--no-renames", "-z", from, src.commit]);
  return out.split("\0").filter((f) => f !== "" && isControlFile(f));
}

function controlFilesWarning(args: ParsedArgs, src: Source, files: readonly string[]): string[] {
  if (files.length === 0) return [];
  if (args.values["allow-control-files"] !== true) {
    throw cliErrors.create(
      "ERR_LAND_CONTROL_FILES",
      `run ${src.runId}'s result changes DWM's control files: ${files.join(", ")}; nothing of it is landed`,
      {
        hint: `Read the change (git diff ${src.base?.slice(0, 12) ?? "4b825dc"} ${src.branch} -- ${files.join(" ")}); land it only if you mean it: dwm land ${src.ref} --allow-control-files`,
        details: { files },
      },
    );
  }
  return [`warning: landed changes to DWM's control files (--allow-control-files): ${files.join(", ")}`];
}

/** Move the branch: through a fast-forward merge when it is checked out (the working tree follows), else as a ref. */
async function apply(git: GitPort, repo: string, src: Source, t: Target, after: string): Promise<void> {
  if (t.checkedOut) {
    await gitOut(git, repo, ["merge", "--ff-only", "--quiet", after]);
    return;
  }
  const old = t.tip ?? "0".repeat(after.length);
  await gitOut(git, repo, ["update-ref", "-m", `dwm land ${src.runId}`, `refs/heads/${t.into}`, after, old]);
}

const SAID: Record<How, string> = {
  already: "already holds it; nothing changed",
  created: "did not exist; it now points at the result",
  "fast-forward": "fast-forwarded to the result",
  merge: "got a merge commit of the result",
};

/** `dwm land <run> [--into BRANCH] [--ff-only|--merge]`: bring a completed, verified run's result into a branch. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const mode = modeOf(args);
  const r = resolveRun(args, ctx);
  const repo = repoRoot(ctx.cwd);
  const git = createGit(nodeProcessRunner, ctx.env);
  const src = await landable(r, git, repo);
  const target = await targetOf(args, src, git, repo);
  const { how, after } = await stepOf(git, repo, src, target, mode);
  const warnings =
    how === "already" ? [] : controlFilesWarning(args, src, await controlFileChanges(git, repo, src));
  if (how !== "already") await apply(git, repo, src, target, after);
  const result: LandResult = {
    kind: "land-result",
    schema_version: "1",
    run_id: src.runId,
    into: target.into,
    how,
    integration: { branch: src.branch, commit: src.commit },
    before: target.tip,
    after,
    checked_out: target.checkedOut,
  };
  const text = [
    `Landed run ${src.runId} into ${target.into}: ${target.into} ${SAID[how]}.`,
    `  ${target.tip?.slice(0, 12) ?? "(none)"} -> ${after.slice(0, 12)}${target.checkedOut && how !== "already" ? " (checked out here: the working tree is updated)" : ""}`,
    `  from ${src.branch} @ ${src.commit.slice(0, 12)}`,
  ].join("\n");
  return { exitCode: 0, output: result, text, ...(warnings.length > 0 ? { warnings } : {}) };
}
