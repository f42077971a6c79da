import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner, writeArtifact } from "@dwm/core";
import { createGit } from "@dwm/executor";
import type { EventDraft } from "@dwm/runtime";
import type { JournalEvent, Packet, RunState } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { assertIntegrationKeeps, integrationBranch } from "../integration.js";
import { gateState, packetState, runState } from "../test-support/builders.js";
import type { RunContext } from "./context.js";
import { Integrator, nextConflictGateId, readyToMerge } from "./integrator.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("readyToMerge: whether a packet's work is merged now", () => {
  const done = packetState({ state: "completed", attempts: 1, commit: "c1" });

  it("a completed packet with an unmerged commit", () => {
    expect(readyToMerge(done, runState())).toBe(true);
  });

  it("not before it completed, not without a commit, not twice", () => {
    expect(readyToMerge(undefined, runState())).toBe(false);
    expect(readyToMerge({ ...done, state: "reviewed" }, runState())).toBe(false);
    expect(readyToMerge({ ...done, commit: null }, runState())).toBe(false);
    expect(readyToMerge({ ...done, merged_commit: "m1" }, runState())).toBe(false);
  });

  it("after a conflict, only once the operator approved its gate (having merged by hand)", () => {
    const conflicted = { ...done, conflict_gate: "merge-conflict/p/1" };
    const at = (state: "open" | "approved" | "rejected") =>
      runState({}, { "merge-conflict/p/1": gateState({ state }) });
    expect(readyToMerge(conflicted, at("open"))).toBe(false);
    expect(readyToMerge(conflicted, at("rejected"))).toBe(false);
    expect(readyToMerge(conflicted, at("approved"))).toBe(true);
  });
});

describe("nextConflictGateId", () => {
  it("the first conflict of an attempt is merge-conflict/<packet>/<n>; asked again, -2, -3, …", () => {
    expect(nextConflictGateId(runState(), "p", 2)).toBe("merge-conflict/p/2");
    const once = runState({}, { "merge-conflict/p/2": gateState({ state: "approved" }) });
    expect(nextConflictGateId(once, "p", 2)).toBe("merge-conflict/p/2-2");
    const twice = runState({}, { ...once.gates, "merge-conflict/p/2-2": gateState() });
    expect(nextConflictGateId(twice, "p", 2)).toBe("merge-conflict/p/2-3");
    expect(nextConflictGateId(twice, "p", 3)).toBe("merge-conflict/p/3");
  });
});

/** A repository with a base commit and one branch commit per packet, each writing `file` with `text`. */
function repoWith<K extends string>(
  changes: Record<K, [file: string, text: string]>,
): { repo: TempDir; base: string; commits: Record<K, string> } {
  const repo = makeGitRepo({ "shared.txt": "base\n" });
  cleanups.push(repo.cleanup);
  const base = git(repo.path, "rev-parse", "HEAD");
  const commits = {} as Record<K, string>;
  for (const [id, [file, text]] of Object.entries(changes) as [K, [string, string]][]) {
    git(repo.path, "checkout", "-q", "-B", `work-${id}`, base);
    fs.writeFileSync(path.join(repo.path, file), text);
    git(repo.path, "add", "-A");
    git(repo.path, "commit", "-q", "-m", id);
    commits[id] = git(repo.path, "rev-parse", "HEAD");
  }
  git(repo.path, "checkout", "-q", "main");
  return { repo, base, commits };
}

/** The integrator's context: a real repository, a state and a journal that only records what is appended. */
function contextOf(repo: string, base: string, state: RunState) {
  const appended: EventDraft[] = [];
  const log = {
    state,
    append(drafts: readonly EventDraft[]) {
      for (const d of drafts) {
        appended.push(d);
        if (d.type === "integration.merged") {
          const p = state.packets[d.data.packet_id];
          if (p) p.merged_commit = d.data.commit;
        }
      }
      return [];
    },
  };
  const gitPort = createGit(nodeProcessRunner, { PATH: process.env.PATH });
  const setup = {
    runId: "run-1",
    baseCommit: base,
    dir: "/nonexistent",
    gitPorts: { git: gitPort, clock: new FakeClock(), repo },
  };
  return { ctx: { setup, log } as unknown as RunContext, appended };
}

describe("Integrator", () => {
  it("merges completed packets in run order: the first fast-forwards, the second is a merge; attempts then start there", async () => {
    const { repo, base, commits } = repoWith({ a: ["a.txt", "a\n"], b: ["b.txt", "b\n"] });
    const state = runState({
      a: packetState({ state: "completed", attempts: 1, commit: commits.a }),
      b: packetState({ state: "completed", attempts: 1, commit: commits.b }),
      c: packetState({ state: "dispatched", attempts: 1 }),
    });
    const { ctx, appended } = contextOf(repo.path, base, state);
    const integrator = new Integrator(ctx);
    await integrator.start();
    expect(integrator.base).toBe(base);
    await integrator.integrateCompleted();
    const head = git(repo.path, "rev-parse", integrationBranch("run-1"));
    expect(appended).toEqual([
      { type: "integration.merged", data: { packet_id: "a", commit: commits.a } },
      { type: "integration.merged", data: { packet_id: "b", commit: head } },
    ]);
    expect(git(repo.path, "rev-list", "--parents", "-n", "1", head).split(" ").slice(1)).toEqual([
      commits.a,
      commits.b,
    ]);
    expect(integrator.base).toBe(head);
    await integrator.integrateCompleted();
    expect(appended).toHaveLength(2);
  });

  it("a conflict changes nothing in git and opens the packet's conflict gate", async () => {
    const { repo, base, commits } = repoWith({
      a: ["shared.txt", "from a\n"],
      b: ["shared.txt", "from b\n"],
    });
    const state = runState({
      a: packetState({ state: "completed", attempts: 1, commit: commits.a }),
      b: packetState({ state: "completed", attempts: 2, commit: commits.b }),
    });
    const { ctx, appended } = contextOf(repo.path, base, state);
    const integrator = new Integrator(ctx);
    await integrator.start();
    await integrator.integrateCompleted();
    expect(git(repo.path, "rev-parse", integrationBranch("run-1"))).toBe(commits.a);
    expect(appended.map((d) => d.type)).toEqual([
      "integration.merged",
      "integration.conflict",
      "gate.opened",
    ]);
    expect(appended[1]).toEqual({
      type: "integration.conflict",
      data: { packet_id: "b", paths: ["shared.txt"], gate_id: "merge-conflict/b/2" },
    });
    expect(integrator.base).toBe(commits.a);
  });

  it("the branch moved on by someone else: the merge goes on top of where it is (compare-and-swap refused once)", async () => {
    const { repo, base, commits } = repoWith({ a: ["a.txt", "a\n"], b: ["b.txt", "b\n"] });
    const state = runState({ a: packetState({ state: "completed", attempts: 1, commit: commits.a }) });
    const { ctx, appended } = contextOf(repo.path, base, state);
    const integrator = new Integrator(ctx);
    await integrator.start();
    await integrator.integrateCompleted();
    const branch = integrationBranch("run-1");
    // An outside commit on top of the merged work: the branch moved on, nothing of the run is lost.
    const outside = git(
      repo.path,
      "-c",
      "user.name=o",
      "-c",
      "user.email=o@o",
      "commit-tree",
      `${commits.a}^{tree}`,
      "-p",
      commits.a,
      "-m",
      "outside",
    );
    git(repo.path, "update-ref", `refs/heads/${branch}`, outside, commits.a);
    state.packets.c = packetState({ state: "completed", attempts: 1, commit: commits.b });
    integrator.noteEvent({ type: "packet.completed", data: { packet_id: "c", attempt: 1 } } as never);
    await integrator.integrateCompleted();
    const head = git(repo.path, "rev-parse", branch);
    expect(appended.at(-1)).toEqual({ type: "integration.merged", data: { packet_id: "c", commit: head } });
    expect(git(repo.path, "rev-list", "--parents", "-n", "1", head).split(" ").slice(1)).toEqual([
      outside,
      commits.b,
    ]);
  });

  it("the branch moved back or elsewhere (work this run merged is gone): the run stops, nothing is merged on top of the loss", async () => {
    const { repo, base, commits } = repoWith({ a: ["a.txt", "a\n"], b: ["b.txt", "b\n"] });
    const state = runState({ a: packetState({ state: "completed", attempts: 1, commit: commits.a }) });
    const { ctx, appended } = contextOf(repo.path, base, state);
    const integrator = new Integrator(ctx);
    await integrator.start();
    await integrator.integrateCompleted();
    const branch = integrationBranch("run-1");
    git(repo.path, "update-ref", `refs/heads/${branch}`, commits.b, commits.a); // not a descendant: a's merge is gone
    state.packets.c = packetState({ state: "completed", attempts: 1, commit: commits.b });
    integrator.noteEvent({ type: "packet.completed", data: { packet_id: "c", attempt: 1 } } as never);
    await expect(integrator.integrateCompleted()).rejects.toMatchObject({
      code: "ERR_DISPATCH_INTEGRATION_REWOUND",
      details: { missing: [commits.a] },
    });
    expect(appended.map((d) => d.type)).toEqual(["integration.merged"]);
    expect(git(repo.path, "rev-parse", branch)).toBe(commits.b);
    // A new runner refuses the branch from the start too.
    await expect(new Integrator(ctx).start()).rejects.toMatchObject({
      code: "ERR_DISPATCH_INTEGRATION_REWOUND",
    });
  });
});

describe("assertIntegrationKeeps: the integration branch must still hold what this run merged", () => {
  it("accepts a branch moved on, refuses one moved back (ERR_DISPATCH_INTEGRATION_REWOUND, naming the lost merges) or gone", async () => {
    const repo = makeGitRepo({ "a.txt": "a\n" });
    cleanups.push(repo.cleanup);
    const ports = { git: createGit(nodeProcessRunner, process.env), clock: new FakeClock(), repo: repo.path };
    const c1 = git(repo.path, "rev-parse", "HEAD");
    fs.writeFileSync(path.join(repo.path, "b.txt"), "b\n");
    git(repo.path, "add", "b.txt");
    git(repo.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "b");
    const c2 = git(repo.path, "rev-parse", "HEAD");
    await expect(assertIntegrationKeeps(ports, "r", c2, [c1, c2])).resolves.toBeUndefined();
    await expect(assertIntegrationKeeps(ports, "r", c1, [])).resolves.toBeUndefined();
    await expect(assertIntegrationKeeps(ports, "r", c1, [c1, c2])).rejects.toMatchObject({
      code: "ERR_DISPATCH_INTEGRATION_REWOUND",
      details: { missing: [c2] },
    });
    await expect(assertIntegrationKeeps(ports, "r", null, [c1])).rejects.toMatchObject({
      code: "ERR_DISPATCH_INTEGRATION_REWOUND",
    });
  });
});

describe("Integrator.baseFor: where a packet's attempt starts", () => {
  const item = (id: string, depends_on: string[] = []) =>
    ({
      packet_id: id,
      depends_on,
      workers: [],
      outputs: [{ artifact: `${id}/out.json` }],
      command: { script: "true" },
      fanout: { role: "item" },
    }) as unknown as Packet;
  const editor = { ...item("edit"), fanout: undefined } as unknown as Packet;

  it("output-folder packets keep the base the first of them took until a dependency of theirs merges; others take the head", async () => {
    const { repo, base, commits } = repoWith({ x: ["x.txt", "x\n"], y: ["y.txt", "y\n"] });
    const state = runState({ x: packetState({ state: "completed", attempts: 1, commit: commits.x }) });
    const { ctx } = contextOf(repo.path, base, state);
    const setup = { ...ctx.setup, views: {}, fan: { packet: () => undefined } };
    const withViews = { ...ctx, setup } as unknown as RunContext;
    const integrator = new Integrator(withViews);
    await integrator.start();
    expect(integrator.baseFor(item("check/a-1"))).toBe(base);
    await integrator.integrateCompleted();
    const afterX = git(repo.path, "rev-parse", integrationBranch("run-1"));
    expect(afterX).toBe(commits.x);
    // x merged, but check/b-2 does not depend on it: the view of the base serves it too.
    expect(integrator.baseFor(item("check/b-2"))).toBe(base);
    // A packet that edits the repository starts from the head, as before.
    expect(integrator.baseFor(editor)).toBe(afterX);
    // One that depends on x must see x: it takes the head, and the next ones start there.
    expect(integrator.baseFor(item("check/c-3", ["x"]))).toBe(afterX);
    expect(integrator.baseFor(item("check/d-4"))).toBe(afterX);
  });

  it("without shared views every packet starts from the head", async () => {
    const { repo, base, commits } = repoWith({ x: ["x.txt", "x\n"] });
    const state = runState({ x: packetState({ state: "completed", attempts: 1, commit: commits.x }) });
    const { ctx } = contextOf(repo.path, base, state);
    const integrator = new Integrator(ctx);
    await integrator.start();
    expect(integrator.baseFor(item("check/a-1"))).toBe(base);
    await integrator.integrateCompleted();
    expect(integrator.baseFor(item("check/b-2"))).toBe(commits.x);
  });
});

describe("Integrator: output-folder work merged in batches", () => {
  const item = (id: string) =>
    ({
      packet_id: id,
      depends_on: [],
      workers: [],
      outputs: [{ artifact: `${id}/out.json` }],
      command: { script: "true" },
      fanout: { role: "item" },
    }) as unknown as Packet;

  /** Two item packets whose commits (on the base) each add `<id>/out.json`, their attempt files in a run dir. */
  function itemsRun() {
    const { repo, base, commits } = repoWith({
      "check/a-1": ["check-a.txt", "a\n"],
      "check/b-2": ["check-b.txt", "b\n"],
    });
    const made: Record<string, string> = {};
    const runDir = makeTempDir("dwm-batch-run-");
    cleanups.push(runDir.cleanup);
    const example = JSON.parse(
      fs.readFileSync(
        path.resolve(import.meta.dirname, "../../../../schemas/examples/attempt/valid/codex-ok.json"),
        "utf8",
      ),
    );
    for (const id of Object.keys(commits) as (keyof typeof commits)[]) {
      git(repo.path, "checkout", "-q", "--detach", base);
      fs.mkdirSync(path.join(repo.path, id), { recursive: true });
      fs.writeFileSync(path.join(repo.path, id, "out.json"), `{"id":"${id}"}\n`);
      git(repo.path, "add", "-A", id);
      git(repo.path, "commit", "-q", "-m", id);
      made[id] = git(repo.path, "rev-parse", "HEAD");
      git(repo.path, "checkout", "-q", "main");
      const attempt = {
        ...example,
        packet_id: id,
        attempt: 1,
        base_commit: base,
        head_commit: made[id],
        changed_files: [{ path: `${id}/out.json`, status: "added", workers: ["command"] }],
      };
      writeArtifact(path.join(runDir.path, "attempts", id, "1", "attempt.json"), "attempt", attempt);
    }
    const state = runState({
      "check/a-1": packetState({ state: "completed", attempts: 1, commit: made["check/a-1"] as string }),
      "check/b-2": packetState({ state: "dispatched", attempts: 1 }),
    });
    const { ctx, appended } = contextOf(repo.path, base, state);
    const setup = { ...ctx.setup, dir: runDir.path, views: {}, fan: { packet: item } };
    return { repo, base, made, state, appended, ctx: { ...ctx, setup } as unknown as RunContext };
  }
  const completed = (id: string) =>
    ({ type: "packet.completed", data: { packet_id: id } }) as unknown as JournalEvent;

  it("holds a lone item's work while others run, and merges it once nothing is in flight", async () => {
    const { repo, made, appended, ctx } = itemsRun();
    const integrator = new Integrator(ctx);
    await integrator.start();
    await integrator.integrateCompleted(1);
    expect(appended).toEqual([]);
    // Nothing completed since, nothing in flight: the held work is merged now (not forgotten).
    await integrator.integrateCompleted(0);
    const head = git(repo.path, "rev-parse", integrationBranch("run-1"));
    expect(appended).toEqual([
      { type: "integration.merged", data: { packet_id: "check/a-1", commit: head } },
    ]);
    expect(git(repo.path, "show", `${head}:check/a-1/out.json`)).toBe('{"id":"check/a-1"}');
    expect(head).toBe(made["check/a-1"]);
  });

  it("merges the items that completed together in one commit, each journaled as merged by it", async () => {
    const { repo, base, made, state, appended, ctx } = itemsRun();
    const integrator = new Integrator(ctx);
    await integrator.start();
    // An earlier merge on the branch, so that the batch is a real merge.
    const other = repoCommit(repo.path, base, "outside.txt");
    git(repo.path, "update-ref", `refs/heads/${integrationBranch("run-1")}`, other);
    await integrator.start();
    state.packets["check/b-2"] = packetState({
      state: "completed",
      attempts: 1,
      commit: made["check/b-2"] as string,
    });
    integrator.noteEvent(completed("check/a-1"));
    integrator.noteEvent(completed("check/b-2"));
    await integrator.integrateCompleted(0);
    const head = git(repo.path, "rev-parse", integrationBranch("run-1"));
    expect(appended).toEqual([
      { type: "integration.merged", data: { packet_id: "check/a-1", commit: head } },
      { type: "integration.merged", data: { packet_id: "check/b-2", commit: head } },
    ]);
    expect(git(repo.path, "rev-list", "--parents", "-n", "1", head).split(" ").slice(1)).toEqual([
      other,
      made["check/a-1"],
      made["check/b-2"],
    ]);
    expect(git(repo.path, "ls-tree", "-r", "--name-only", head)).toBe(
      "check/a-1/out.json\ncheck/b-2/out.json\noutside.txt\nshared.txt",
    );
  });
});

/** A commit on `from` adding `file`, outside any branch. */
function repoCommit(repo: string, from: string, file: string): string {
  git(repo, "checkout", "-q", "--detach", from);
  fs.writeFileSync(path.join(repo, file), `${file}\n`);
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", file);
  const c = git(repo, "rev-parse", "HEAD");
  git(repo, "checkout", "-q", "main");
  return c;
}
