import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { nodeProcessRunner } from "@dwm/core";
import { git, makeGitRepo, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { removeDeadAttemptSpaces } from "./attempt-spaces.js";
import { reserveSpace } from "./internal/attempt-space.js";
import { createGit } from "./internal/git.js";
import { SPACE_OWNER_FILE, spaceOwner } from "./internal/space-owner.js";
import { createSharedViews } from "./shared-views.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A pid that no process has now. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString(),
  );
}

describe("attempt folders: owner marker and the sweep of a crash's leftovers", () => {
  it("each attempt folder carries its run, pid and host", () => {
    const root = makeTempDir("dwm-spaces-");
    cleanups.push(root.cleanup);
    const dir = reserveSpace(root.path, spaceOwner("run-1"));
    expect(path.basename(dir)).toMatch(/^dwm-wt-/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, SPACE_OWNER_FILE), "utf8"))).toEqual({
      run_id: "run-1",
      pid: process.pid,
      host: os.hostname(),
    });
  });

  it("removes only this run's folders whose owner is dead on this host; never a live one's, another run's, another host's or an unmarked one", () => {
    const root = makeTempDir("dwm-spaces-");
    cleanups.push(root.cleanup);
    const dead = deadPid();
    const space = (name: string, owner: object | null) => {
      const dir = path.join(root.path, name);
      fs.mkdirSync(path.join(dir, "wt"), { recursive: true });
      fs.writeFileSync(path.join(dir, "wt", "prompt.md"), "work");
      if (owner) fs.writeFileSync(path.join(dir, SPACE_OWNER_FILE), JSON.stringify(owner));
      return dir;
    };
    const host = os.hostname();
    const crashed = space("dwm-wt-crashed", { run_id: "run-1", pid: dead, host });
    const live = space("dwm-wt-live", { run_id: "run-1", pid: process.ppid, host });
    const mine = space("dwm-wt-mine", { run_id: "run-1", pid: process.pid, host });
    const otherRun = space("dwm-wt-other", { run_id: "run-2", pid: dead, host });
    const otherHost = space("dwm-wt-far", { run_id: "run-1", pid: dead, host: `${host}-elsewhere` });
    const unmarked = space("dwm-wt-old", null);
    const notOurs = space("something-else", { run_id: "run-1", pid: dead, host });
    const real = (dir: string) => path.join(fs.realpathSync(root.path), path.basename(dir));
    expect(removeDeadAttemptSpaces(root.path, { runId: "run-1" })).toEqual([real(crashed)]);
    expect(fs.existsSync(crashed)).toBe(false);
    const kept = { live, mine, otherRun, otherHost, unmarked, notOurs };
    expect(Object.entries(kept).filter(([, d]) => !fs.existsSync(d))).toEqual([]);
    // Without a run (a `dwm worker` starting): every dead owner's folder of this host.
    expect(removeDeadAttemptSpaces(root.path)).toEqual([real(otherRun)]);
    expect(removeDeadAttemptSpaces(path.join(root.path, "missing"))).toEqual([]);
  });

  it("sweeps a crashed run's shared views (dwm-views-*) by the same marker, never a live runner's", async () => {
    const root = makeTempDir("dwm-spaces-");
    const repo = makeGitRepo({ "a.txt": "a\n" });
    cleanups.push(root.cleanup, repo.cleanup);
    const base = git(repo.path, "rev-parse", "HEAD");
    const g = createGit(nodeProcessRunner, process.env);
    const open = async (name: string) => {
      const views = createSharedViews(path.join(root.path, name), { runId: "run-1" });
      (await views.acquire(g, repo.path, base)).release();
      return path.join(root.path, name);
    };
    const crashed = await open("dwm-views-run-1-aaaa");
    const live = await open("dwm-views-run-1-bbbb");
    expect(JSON.parse(fs.readFileSync(path.join(live, SPACE_OWNER_FILE), "utf8"))).toEqual(
      spaceOwner("run-1"),
    );
    expect(fs.existsSync(path.join(crashed, base, "a.txt"))).toBe(true);
    // The runner that made `crashed` was killed: its marker names a pid no process has now.
    const marker = path.join(crashed, SPACE_OWNER_FILE);
    fs.writeFileSync(marker, JSON.stringify({ ...spaceOwner("run-1"), pid: deadPid() }));
    const real = (dir: string) => path.join(fs.realpathSync(root.path), path.basename(dir));
    expect(removeDeadAttemptSpaces(root.path, { runId: "run-1" })).toEqual([real(crashed)]);
    expect(fs.existsSync(crashed)).toBe(false);
    expect(fs.existsSync(path.join(live, base, "a.txt"))).toBe(true);
  });
});
