// dwm land: a completed, verified run's integration result brought into the branch it started
// from (or --into another), fast-forward or merge; refused for a run that is not complete, a
// store or integration branch that changed, a dirty working tree, a conflict, --ff-only when
// the branch moved on. dwm status and dwm next name it until the result is there.
import fs from "node:fs";
import path from "node:path";
import { validateSchema } from "@dwm/schemas";
import { git, type TempDir } from "@dwm/test-utils";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dwmInProcess as dwm, journalEvents, runDir } from "../test-support/built-cli.js";
import { commandsOnly, fanoutRepoWith } from "../test-support/commands-repo.js";

const json = (r: { stdout: string }) => JSON.parse(r.stdout);
const codeOf = (r: { stdout: string }) => (json(r) as { error: { code: string } }).error.code;

let repo: TempDir;
let runId: string;
let start: string;
let integration: string;
const summary = () => path.join(repo.path, "reports", "summary.md");

beforeAll(async () => {
  repo = fanoutRepoWith(commandsOnly(false));
  start = git(repo.path, "rev-parse", "HEAD");
  expect((await dwm(repo.path, ["run", "workflow.plan.json"])).code).toBe(4);
  runId = path.basename(runDir(repo.path));
  // Stopped at the accept gate: nothing to land yet.
  const early = await dwm(repo.path, ["land", runId, "--json"]);
  expect([early.code, codeOf(early)]).toEqual([1, "ERR_LAND_NOT_COMPLETE"]);
  expect((await dwm(repo.path, ["approve", runId, "human-gate-accept"])).code).toBe(0);
  expect((await dwm(repo.path, ["run", runId])).code).toBe(0);
  integration = git(repo.path, "rev-parse", `dwm/${runId}/integration`);
}, 240_000);
afterAll(() => repo.cleanup());

beforeEach(() => {
  git(repo.path, "checkout", "-q", "main");
  git(repo.path, "reset", "-q", "--hard", start);
  for (const b of git(repo.path, "branch", "--format=%(refname:short)").split("\n"))
    if (b !== "main" && !b.startsWith("dwm/")) git(repo.path, "branch", "-q", "-D", b);
});

describe("dwm land", () => {
  it("the fan-out left no branch per item: its attempts' work is under refs/dwm/<run>/attempts/", () => {
    expect(git(repo.path, "branch", "--format=%(refname:short)").split("\n")).toEqual([
      `dwm/${runId}/integration`,
      "main",
    ]);
    const attempts = git(repo.path, "for-each-ref", "--format=%(refname)", `refs/dwm/${runId}/attempts/`)
      .split("\n")
      .map((r) => r.slice(`refs/dwm/${runId}/attempts/`.length).replace(/-[0-9a-f]+\//, "-<digest>/"));
    expect(attempts.sort()).toEqual([
      "grade/alpha-<digest>/1",
      "grade/beta-<digest>/1",
      "grade/gamma-<digest>/1",
      "list/1",
      "measure/alpha-<digest>/1",
      "measure/beta-<digest>/1",
      "measure/gamma-<digest>/1",
      "report/1",
    ]);
  });

  it("the run recorded the branch it started from; status and next name dwm land until it is landed", async () => {
    expect(journalEvents(repo.path)[0]?.data).toMatchObject({ branch: "main" });
    const st = json(await dwm(repo.path, ["status", runId, "--json"]));
    expect(st.next_action).toEqual({
      kind: "land",
      summary:
        "The run is complete: every packet passed review. Bring its result into main, the branch it started from",
      command: `dwm land ${runId}`,
    });
    const next = json(await dwm(repo.path, ["next", runId, "--json"]));
    expect([next.action, next.argv]).toEqual(["land", ["dwm", "land", runId]]);

    const landed = await dwm(repo.path, ["land", runId, "--json"]);
    expect(landed.code).toBe(0);
    const result = json(landed);
    expect(validateSchema("land-result", result).problems).toEqual([]);
    expect(result).toEqual({
      kind: "land-result",
      schema_version: "1",
      run_id: runId,
      into: "main",
      how: "fast-forward",
      integration: { branch: `dwm/${runId}/integration`, commit: integration },
      before: start,
      after: integration,
      checked_out: true,
    });
    // The working tree follows: the report is in the user's branch, nothing is left uncommitted.
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(integration);
    expect(fs.readFileSync(summary(), "utf8")).toContain("3 documents graded.");
    expect(git(repo.path, "status", "--porcelain", "--untracked-files=no")).toBe("");

    expect(json(await dwm(repo.path, ["status", runId, "--json"])).next_action).toEqual({
      kind: "complete",
      summary: "The run is complete: every packet passed review, and its result is in main.",
      command: null,
    });
    expect(json(await dwm(repo.path, ["next", runId, "--json"])).action).toBe("complete");
    const again = json(await dwm(repo.path, ["land", runId, "--json"]));
    expect([again.how, again.before, again.after]).toEqual(["already", integration, integration]);
  });

  it("refuses uncommitted changes to tracked files of the branch checked out, and changes nothing", async () => {
    fs.appendFileSync(path.join(repo.path, "docs", "alpha.md"), "more\n");
    const r = await dwm(repo.path, ["land", runId, "--json"]);
    expect([r.code, codeOf(r)]).toEqual([1, "ERR_LAND_DIRTY"]);
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(start);
  });

  it("a branch that moved on: --ff-only refuses, the default records a merge commit of both", async () => {
    fs.writeFileSync(path.join(repo.path, "NOTES.md"), "meanwhile\n");
    git(repo.path, "add", "NOTES.md");
    git(repo.path, "commit", "-q", "-m", "meanwhile");
    const moved = git(repo.path, "rev-parse", "HEAD");
    const ff = await dwm(repo.path, ["land", runId, "--ff-only", "--json"]);
    expect([ff.code, codeOf(ff)]).toEqual([1, "ERR_LAND_NOT_FAST_FORWARD"]);
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(moved);
    const r = json(await dwm(repo.path, ["land", runId, "--json"]));
    expect([r.how, r.before]).toEqual(["merge", moved]);
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(r.after);
    expect(git(repo.path, "log", "-1", "--format=%P", r.after)).toBe(`${moved} ${integration}`);
    expect(fs.existsSync(path.join(repo.path, "NOTES.md")) && fs.existsSync(summary())).toBe(true);
  });

  it("--merge records a merge commit even where a fast-forward would do", async () => {
    const r = json(await dwm(repo.path, ["land", runId, "--merge", "--json"]));
    expect(r.how).toBe("merge");
    expect(git(repo.path, "log", "-1", "--format=%P", "HEAD")).toBe(`${start} ${integration}`);
    expect(git(repo.path, "rev-parse", "HEAD^{tree}")).toBe(
      git(repo.path, "rev-parse", `${integration}^{tree}`),
    );
    const both = await dwm(repo.path, ["land", runId, "--merge", "--ff-only"]);
    expect(both.code).toBe(2);
  });

  it("a conflict with the branch is refused with the paths, and nothing moves", async () => {
    fs.mkdirSync(path.join(repo.path, "reports"));
    fs.writeFileSync(summary(), "my own summary\n");
    git(repo.path, "add", "reports");
    git(repo.path, "commit", "-q", "-m", "a summary of mine");
    const mine = git(repo.path, "rev-parse", "HEAD");
    const r = await dwm(repo.path, ["land", runId, "--json"]);
    expect([r.code, codeOf(r)]).toEqual([1, "ERR_LAND_CONFLICT"]);
    expect(json(r).error.details.paths).toEqual(["reports/summary.md"]);
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(mine);
    expect(fs.readFileSync(summary(), "utf8")).toBe("my own summary\n");
  });

  it("--into a branch not checked out moves (or makes) only that branch; the working tree is left alone", async () => {
    const made = json(await dwm(repo.path, ["land", runId, "--into", "results", "--json"]));
    expect([made.how, made.before, made.after, made.checked_out]).toEqual([
      "created",
      null,
      integration,
      false,
    ]);
    git(repo.path, "branch", "-q", "older", start);
    const moved = json(await dwm(repo.path, ["land", runId, "--into", "older", "--json"]));
    expect([moved.how, moved.before, moved.after]).toEqual(["fast-forward", start, integration]);
    expect(git(repo.path, "rev-parse", "older")).toBe(integration);
    expect(git(repo.path, "rev-parse", "HEAD")).toBe(start);
    expect(fs.existsSync(summary())).toBe(false);
  });

  it("refuses a branch checked out in another worktree", async () => {
    const other = path.join(path.dirname(repo.path), `${path.basename(repo.path)}-other`);
    git(repo.path, "worktree", "add", "-q", "-b", "elsewhere", other, start);
    try {
      const r = await dwm(repo.path, ["land", runId, "--into", "elsewhere", "--json"]);
      expect([r.code, codeOf(r)]).toEqual([1, "ERR_LAND_CHECKED_OUT_ELSEWHERE"]);
      expect(git(repo.path, "rev-parse", "elsewhere")).toBe(start);
    } finally {
      git(repo.path, "worktree", "remove", "--force", other);
    }
  });

  it("refuses an integration branch that moved after the run (exit 3), and lands nothing", async () => {
    const ref = `refs/heads/dwm/${runId}/integration`;
    git(repo.path, "update-ref", ref, start);
    try {
      const r = await dwm(repo.path, ["land", runId, "--json"]);
      expect([r.code, codeOf(r)]).toEqual([3, "ERR_LAND_NOT_VERIFIED"]);
      expect(git(repo.path, "rev-parse", "HEAD")).toBe(start);
    } finally {
      git(repo.path, "update-ref", ref, integration);
    }
  });

  it("refuses a run store that fails verification (exit 3), like every command that changes something", async () => {
    const journal = path.join(runDir(repo.path), "journal.jsonl");
    const bytes = fs.readFileSync(journal);
    fs.writeFileSync(journal, bytes.toString("utf8").replace('"revision":1', '"revision":7'));
    try {
      const r = await dwm(repo.path, ["land", runId, "--json"]);
      expect([r.code, codeOf(r)]).toEqual([3, "ERR_CLI_STORE_DAMAGED"]);
      expect(git(repo.path, "rev-parse", "HEAD")).toBe(start);
    } finally {
      fs.writeFileSync(journal, bytes);
    }
  });
});
