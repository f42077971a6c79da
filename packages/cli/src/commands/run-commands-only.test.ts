// A plan made only of command and gate phases (examples/fan-out with its grade step as a command
// and no workers) runs without any worker binding; a plan that names a worker no phase uses
// needs no binding for it; a worker some phase uses does, and the hints printed then are
// commands that work when followed.
import fs from "node:fs";
import path from "node:path";
import type { TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { auditRepo, dwmInProcess as dwm, journalEvents } from "../test-support/built-cli.js";
import { commandsOnly, fanoutRepoWith } from "../test-support/commands-repo.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function repoWith(edit: Parameters<typeof fanoutRepoWith>[0]): TempDir {
  const repo = fanoutRepoWith(edit);
  cleanups.push(repo.cleanup);
  return repo;
}

const errorOf = (r: { stdout: string }) =>
  (JSON.parse(r.stdout) as { error: { code: string; hint: string } }).error;

describe("a plan of command phases only", () => {
  it("is valid, and runs to its gate without any binding", async () => {
    const repo = repoWith(commandsOnly(false));
    const ev = await dwm(repo.path, ["evaluate", "workflow.plan.json", "--json"]);
    expect(ev.code).toBe(0);
    expect(JSON.parse(ev.stdout).decision).toBe("activate");
    const run = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
    expect([run.code, JSON.parse(run.stdout).status]).toEqual([4, "gate"]);
    const completed = journalEvents(repo.path)
      .filter((e) => e.type === "packet.completed")
      .map((e) => e.data.packet_id?.split("/")[0]);
    expect(completed.sort()).toEqual([
      "grade",
      "grade",
      "grade",
      "list",
      "measure",
      "measure",
      "measure",
      "report",
    ]);
  }, 240_000);

  it("a worker no phase uses needs no binding", async () => {
    const repo = repoWith(commandsOnly(true));
    const run = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
    expect([run.code, JSON.parse(run.stdout).status]).toEqual([4, "gate"]);
  }, 240_000);
});

describe("bindings for the workers phases use", () => {
  it("a missing one is ERR_EXEC_NO_BINDING naming the worker; its hint's --backend dry-run works", async () => {
    const repo = repoWith(() => {});
    const r = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
    expect(r.code).toBe(1);
    const error = errorOf(r);
    expect(error.code).toBe("ERR_EXEC_NO_BINDING");
    expect(error.hint).toContain("--backend dry-run");
    expect(journalEvents(repo.path)).toEqual([]);
    const followed = await dwm(repo.path, ["run", "workflow.plan.json", "--backend", "dry-run", "--json"]);
    expect(followed.stderr).toBe("");
    expect(JSON.parse(followed.stdout).kind).toBe("run-outcome");
  }, 240_000);

  it("--backend shell is a usage error whose hint, followed, runs", async () => {
    const repo = repoWith(() => {});
    const r = await dwm(repo.path, ["run", "workflow.plan.json", "--backend", "shell", "--json"]);
    expect(r.code).toBe(2);
    const error = errorOf(r);
    expect(error.code).toBe("ERR_CLI_USAGE");
    // The hint's bindings document, with the example's own worker script, and no --backend.
    const doc = /e\.g\. (\{.*\}) \(docs/.exec(error.hint)?.[1] as string;
    const bindings = JSON.parse(doc);
    bindings.bindings["*"].argv = ["node", "scripts/grade.mjs"];
    fs.writeFileSync(path.join(repo.path, "dwm.workers.json"), JSON.stringify(bindings));
    const followed = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
    expect([followed.code, JSON.parse(followed.stdout).status]).toEqual([4, "gate"]);
  }, 240_000);
});

/** A PATH whose first bwrap fails (as where user namespaces are off): `dwm doctor` says FAIL sandbox. */
function failingBwrapPath(): string {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? "/tmp"), "dwm-bad-bwrap-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, "bwrap"), "#!/bin/sh\necho 'bwrap: no user namespaces' >&2\nexit 1\n", {
    mode: 0o755,
  });
  return `${dir}:${process.env.PATH}`;
}

describe("where no OS sandbox works, plan commands are refused unless --no-sandbox", () => {
  it("a plan of command phases only: refused before any attempt; --no-sandbox runs it, recorded as none", async () => {
    const repo = repoWith(commandsOnly(false));
    const env = { PATH: failingBwrapPath() };
    const refused = await dwm(repo.path, ["run", "workflow.plan.json", "--json"], env);
    expect([refused.code, errorOf(refused).code]).toEqual([1, "ERR_SANDBOX_UNAVAILABLE"]);
    expect(errorOf(refused).hint).toContain("--no-sandbox");
    expect(journalEvents(repo.path).filter((e) => e.type === "attempt.recorded")).toEqual([]);
    const ran = await dwm(repo.path, ["run", "workflow.plan.json", "--no-sandbox", "--json"], env);
    expect([ran.code, JSON.parse(ran.stdout).status]).toEqual([4, "gate"]);
    const sandboxes = journalEvents(repo.path)
      .filter((e) => e.type === "attempt.recorded")
      .map((e) => (e.data as { sandbox?: string }).sandbox);
    expect(sandboxes.length).toBeGreaterThan(0);
    expect(new Set(sandboxes)).toEqual(new Set(["none"]));
  }, 240_000);

  it("--backend dry-run does not stop a command phase: refused too; a dry run with no command needs no sandbox", async () => {
    const repo = repoWith(() => {});
    const env = { PATH: failingBwrapPath() };
    const refused = await dwm(
      repo.path,
      ["run", "workflow.plan.json", "--backend", "dry-run", "--json"],
      env,
    );
    expect([refused.code, errorOf(refused).code]).toEqual([1, "ERR_SANDBOX_UNAVAILABLE"]);
    expect(journalEvents(repo.path).filter((e) => e.type === "attempt.recorded")).toEqual([]);
    // examples/repo-audit has no command phase: its dry run starts nothing, so nothing is refused.
    const audit = auditRepo(cleanups);
    const dry = await dwm(audit.path, ["run", "workflow.plan.json", "--backend", "dry-run", "--json"], env);
    expect(dry.stderr).not.toContain("ERR_SANDBOX_UNAVAILABLE");
    expect(JSON.parse(dry.stdout).kind).toBe("run-outcome");
  }, 240_000);
});
