import fs from "node:fs";
import path from "node:path";
import { isDwmError, nodeProcessRunner } from "@dwm/core";
import { createGit } from "@dwm/executor";
import { FakeClock, git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { integrationBranch, mergeIntoIntegration } from "./integration.js";
import { type FolderWork, mergeFolderBatch } from "./integration-batch.js";

let repo: TempDir;
let base: string;
const RUN = "run-1";
const branch = `refs/heads/${integrationBranch(RUN)}`;

beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# r\n", "check/existing.txt": "e\n", "src/a.txt": "a\n" });
  base = git(repo.path, "rev-parse", "HEAD");
});
afterEach(() => repo.cleanup());

/** A commit on `from` that writes `files` (path → text; null removes it). */
function commitOn(from: string, files: Record<string, string | null>, msg: string): string {
  git(repo.path, "checkout", "-q", "--detach", from);
  for (const [f, text] of Object.entries(files)) {
    const abs = path.join(repo.path, f);
    if (text === null) fs.rmSync(abs);
    else {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, text);
    }
  }
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-qm", msg);
  const c = git(repo.path, "rev-parse", "HEAD");
  git(repo.path, "checkout", "-q", "main");
  return c;
}

const ports = () => ({
  git: createGit(nodeProcessRunner, { PATH: process.env.PATH }),
  clock: new FakeClock(),
  repo: repo.path,
});
const item = (id: string, commit: string, from = base): FolderWork => ({
  packetId: id,
  attempt: 1,
  folder: id,
  base: from,
  commit,
});

describe("mergeFolderBatch", () => {
  it("merges output-folder commits in one commit with the tree one-by-one merges give", async () => {
    const earlier = commitOn(base, { "src/b.txt": "b\n" }, "earlier merged work");
    git(repo.path, "update-ref", branch, earlier);
    const work = ["check/x-1", "check/y-2", "other/z-3"].map((id) =>
      item(id, commitOn(base, { [`${id}/out.json`]: `{"id":"${id}"}\n` }, id)),
    );
    const r = await mergeFolderBatch(ports(), { runId: RUN, head: earlier, work });
    expect(r.merged).toEqual(["check/x-1", "check/y-2", "other/z-3"]);
    expect(r.rest).toEqual([]);
    expect(git(repo.path, "rev-parse", branch)).toBe(r.commit);
    expect(
      git(repo.path, "rev-list", "--parents", "-n", "1", r.commit ?? "")
        .split(" ")
        .slice(1),
    ).toEqual([earlier, ...work.map((w) => w.commit)]);
    // The same tree as merging them one by one (merge-tree each).
    git(repo.path, "update-ref", `refs/heads/${integrationBranch("other-run")}`, earlier);
    let head = earlier;
    for (const w of work) {
      const m = await mergeIntoIntegration(ports(), {
        runId: "other-run",
        base,
        packetId: w.packetId,
        attempt: 1,
        commit: w.commit,
        head,
      });
      if (m.kind !== "merged") throw new Error("conflict");
      head = m.commit;
    }
    expect(git(repo.path, "ls-tree", "-r", r.commit ?? "")).toBe(git(repo.path, "ls-tree", "-r", head));
    expect(git(repo.path, "rev-parse", `${r.commit}^{tree}`)).toBe(
      git(repo.path, "rev-parse", `${head}^{tree}`),
    );
  });

  it("leaves a packet whose folder the head changed since its base, and a folder inside another, to one-by-one merges", async () => {
    const first = commitOn(base, { "check/x-1/out.json": "first\n" }, "x first attempt merged");
    git(repo.path, "update-ref", branch, first);
    const x = item("check/x-1", commitOn(base, { "check/x-1/out.json": "second\n" }, "x again"));
    const y = item("check/y-2", commitOn(base, { "check/y-2/out.json": "y\n" }, "y"));
    const inner = item("check/y-2/deeper", commitOn(base, { "check/y-2/deeper/o.json": "d\n" }, "inner"));
    const r = await mergeFolderBatch(ports(), { runId: RUN, head: first, work: [x, y, inner] });
    expect(r.merged).toEqual([]);
    expect(r.rest).toEqual(["check/x-1", "check/y-2", "check/y-2/deeper"]);
    expect(r.commit).toBeNull();
    expect(git(repo.path, "rev-parse", branch)).toBe(first);
    const r2 = await mergeFolderBatch(ports(), { runId: RUN, head: first, work: [x, y] });
    expect(r2.merged).toEqual(["check/y-2"]);
    expect(r2.rest).toEqual(["check/x-1"]);
    expect(git(repo.path, "show", `${r2.commit}:check/x-1/out.json`)).toBe("first");
  });

  it("refuses to move a branch someone else moved (compare-and-swap)", async () => {
    const moved = commitOn(base, { "src/c.txt": "c\n" }, "outside");
    git(repo.path, "update-ref", branch, moved);
    const work = ["check/x-1", "check/y-2"].map((id) => item(id, commitOn(base, { [`${id}/o`]: "o\n" }, id)));
    const err = await mergeFolderBatch(ports(), { runId: RUN, head: base, work }).catch((e) => e);
    expect(isDwmError(err) && err.code).toBe("ERR_DISPATCH_INTEGRATION_MOVED");
    expect(git(repo.path, "rev-parse", branch)).toBe(moved);
  });
});
