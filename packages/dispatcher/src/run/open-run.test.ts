import fs from "node:fs";
import path from "node:path";
import { compilePlan } from "@dwm/compiler";
import { readJsonFile } from "@dwm/core";
import { git, testOperatorKey } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { exampleRepo, realPorts } from "../test-support/example.js";
import { OPERATOR } from "../test-support/operator.js";
import { checkOptions, openRun } from "./open-run.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const base = {
  repo: "/r",
  bindings: { kind: "worker-bindings", schema_version: "1", bindings: {} },
  bindingsDigest: "sha256:x",
} as never;

describe("checkOptions", () => {
  it.each([
    ["concurrency", 0, "concurrency must be a whole number ≥ 1"],
    ["concurrency", 1.5, "concurrency must be a whole number ≥ 1"],
    ["maxAttempts", -1, "maxAttempts must be a whole number ≥ 0"],
    ["tokenBudget", "10", "tokenBudget must be a whole number ≥ 0"],
  ])("refuses %s = %j with ERR_DISPATCH_OPTION_INVALID", (name, value, message) => {
    expect(() => checkOptions({ ...(base as object), [name]: value } as never)).toThrow(
      expect.objectContaining({ code: "ERR_DISPATCH_OPTION_INVALID", message, details: { [name]: value } }),
    );
  });

  it("refuses an until other than gate or complete", () => {
    expect(() => checkOptions({ ...(base as object), until: "forever" } as never)).toThrow(
      expect.objectContaining({ code: "ERR_DISPATCH_OPTION_INVALID", details: { until: "forever" } }),
    );
  });

  it("takes the limits at their edges, and no options at all", () => {
    expect(() =>
      checkOptions({
        ...(base as object),
        concurrency: 1,
        maxAttempts: 0,
        tokenBudget: 0,
        until: "complete",
      } as never),
    ).not.toThrow();
    expect(() => checkOptions(base)).not.toThrow();
  });
});

describe("openRun: refusals before anything is journaled", () => {
  it("a run compiled outside git is ERR_DISPATCH_NO_REPOSITORY", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const plan = readJsonFile(path.join(ex.repo.path, "workflow.plan.json"));
    const outside = compilePlan(plan, { repoRoot: ex.repo.path, storeDir: ".dwm/outside", baseCommit: null });
    await expect(
      openRun(outside.runDir, realPorts(), {
        repo: ex.repo.path,
        bindings: ex.bindings,
        bindingsDigest: ex.bindingsDigest,
        operator: OPERATOR,
      }),
    ).rejects.toMatchObject({ code: "ERR_DISPATCH_NO_REPOSITORY" });
  });

  it("a base commit the repository lacks is ERR_DISPATCH_BASE_MISSING", async () => {
    const ex = exampleRepo("repo-audit");
    const other = exampleRepo("repo-audit", [], (p) => {
      p.plan_id = "another-plan";
    });
    cleanups.push(ex.repo.cleanup, other.repo.cleanup);
    await expect(
      openRun(ex.compiled.runDir, realPorts(), {
        repo: other.repo.path,
        bindings: ex.bindings,
        bindingsDigest: ex.bindingsDigest,
        operator: OPERATOR,
      }),
    ).rejects.toMatchObject({ code: "ERR_DISPATCH_BASE_MISSING" });
  });

  it("a packet without a binding is ERR_EXEC_NO_BINDING, and the journal is never opened", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const bindings = { ...ex.bindings, bindings: {} };
    await expect(
      openRun(ex.compiled.runDir, realPorts(), {
        repo: ex.repo.path,
        bindings,
        bindingsDigest: ex.bindingsDigest,
        operator: OPERATOR,
      }),
    ).rejects.toMatchObject({ code: "ERR_EXEC_NO_BINDING" });
    expect(fs.existsSync(path.join(ex.compiled.runDir, "journal.jsonl"))).toBe(false);
  });

  it("a run that can run: its id, base commit, every compiled packet's binding, absolute paths", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const setup = await openRun(path.relative(process.cwd(), ex.compiled.runDir), realPorts(), {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      operator: OPERATOR,
    });
    expect(setup.runId).toBe(ex.compiled.runId);
    expect(setup.dir).toBe(ex.compiled.runDir);
    expect(setup.baseCommit).toBe(ex.compiled.run.base_commit);
    expect([...setup.bindingOf.keys()]).toEqual(ex.compiled.packets.map((p) => p.packet_id));
    expect(setup.branch).toBe(git(ex.repo.path, "symbolic-ref", "--short", "HEAD"));
  });

  it("the branch is the one checked out now, null on a detached HEAD", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    const options = {
      repo: ex.repo.path,
      bindings: ex.bindings,
      bindingsDigest: ex.bindingsDigest,
      operator: OPERATOR,
    };
    git(ex.repo.path, "checkout", "-q", "-b", "feature/audit");
    expect((await openRun(ex.compiled.runDir, realPorts(), options)).branch).toBe("feature/audit");
    git(ex.repo.path, "checkout", "-q", "--detach");
    expect((await openRun(ex.compiled.runDir, realPorts(), options)).branch).toBe(null);
  });

  it("an operator key the repository does not trust is ERR_KEY_UNTRUSTED, and the journal is never opened", async () => {
    const ex = exampleRepo("repo-audit");
    cleanups.push(ex.repo.cleanup);
    await expect(
      openRun(ex.compiled.runDir, realPorts(), {
        repo: ex.repo.path,
        bindings: ex.bindings,
        bindingsDigest: ex.bindingsDigest,
        operator: { key: testOperatorKey(5), trust: OPERATOR.trust },
      }),
    ).rejects.toMatchObject({ code: "ERR_KEY_UNTRUSTED", details: { key_id: testOperatorKey(5).keyId } });
    expect(fs.existsSync(path.join(ex.compiled.runDir, "journal.jsonl"))).toBe(false);
  });
});
