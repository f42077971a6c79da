// Attempts in the shared read-only view (packets whose writes are confined to their output
// folder), with the real bubblewrap sandbox: the same item run both ways gives the same record,
// and a worker that attacks the view, the store or another item's folder gets nothing recorded.
import fs from "node:fs";
import path from "node:path";
import { bubblewrapSandbox, noSandbox } from "@dwm/core";
import type { Attempt, Packet } from "@dwm/schemas";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "./run-attempt.js";
import { createSharedViews, type SharedViews } from "./shared-views.js";
import { input, packet, ports, request } from "./test-support/builders.js";

const sandbox = bubblewrapSandbox();
const probe = await sandbox.probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);

const ITEM = "check/a-1234abcd";

let repo: TempDir;
let store: TempDir;
let views: SharedViews;
let viewRoot: string;

beforeEach(() => {
  repo = makeGitRepo({
    "README.md": "# demo\n",
    "src/main.txt": "main\n",
    "check/existing.txt": "a file of the repository in the phase's folder\n",
    "scripts/ok.sh": "#!/bin/sh\nexit 0\n",
  });
  store = makeTempDir("dwm-view-");
  viewRoot = path.join(store.path, "views");
  views = createSharedViews(viewRoot);
  fs.mkdirSync(path.join(repo.path, ".dwm", "runs", "r"), { recursive: true });
  fs.writeFileSync(path.join(repo.path, ".dwm", "runs", "r", "secret.txt"), "RUN STORE\n");
});
afterEach(() => {
  views.close();
  repo.cleanup();
  store.cleanup();
});

/** A fan-out item packet whose command is `script` and whose one output is `<item>/out.json`. */
function item(script: string, id = ITEM, overrides: Partial<Packet> = {}): Packet {
  return packet({
    packet_id: id,
    workers: [],
    command: { script },
    outputs: [
      {
        artifact: `${id}/out.json`,
        format: "json",
        required_fields: [],
        validation_command: `cd ${id} && test -s out.json`,
      },
    ],
    fanout: {
      role: "item",
      template: "check",
      template_digest: `sha256:${"0".repeat(64)}`,
      first: "check",
      key: "a",
      item: { file: "a" },
      item_digest: `sha256:${"1".repeat(64)}`,
      source_packet: "list",
      reduce: "report",
    },
    ...overrides,
  });
}

function run(p: Packet, n: number, extra: { views?: SharedViews; sandbox?: typeof sandbox } = {}) {
  const pp = {
    ...ports(store, {}, n),
    sandbox: extra.sandbox ?? sandbox,
    ...(extra.views ? { views: extra.views } : {}),
  };
  return runAttempt(
    request(repo.path, p, {}, { attempt: n, inputs: [input("fanout-item.json", '{"file":"a"}\n')] }),
    pp,
  );
}

/** The view's files equal the base commit's tree, nothing more (git's own check, with the view's git folder). */
function viewMatchesBase(base: string): void {
  const dir = path.join(viewRoot, base);
  expect(git(dir, "status", "--porcelain", "--untracked-files=all", "--ignored")).toBe("");
  expect(git(dir, "rev-parse", "HEAD")).toBe(base);
  expect(git(dir, "write-tree")).toBe(git(repo.path, "rev-parse", `${base}^{tree}`));
}

function comparable(a: Attempt): unknown {
  const { started_at, finished_at, duration_ms, attempt_dir, ...rest } = a as unknown as Record<
    string,
    unknown
  >;
  // Wall-clock durations differ run to run; the view's note is the one intended difference.
  const text = JSON.stringify(rest, (k, v) => (k === "duration_ms" ? 0 : v));
  return JSON.parse(text.replaceAll(/"ran in the shared read-only view[^"]*",?/g, ""));
}

describe.runIf(probe.ok)("attempts in the shared read-only view", () => {
  it("records the same attempt as a checkout of its own would, without a checkout", async () => {
    const script = `mkdir -p "$DWM_PACKET_ID" && printf '{"n":1}\\n' > "$DWM_PACKET_ID/out.json" && cat "$DWM_INPUTS_DIR/fanout-item.json" > "$DWM_PACKET_ID/item.txt"`;
    const inView = await run(item(script), 1, { views });
    const inCheckout = await run(item(script), 2);
    expect(inView.outcome).toBe("ok");
    expect(inView.notes[0]).toMatch(/^ran in the shared read-only view of [0-9a-f]{40}/);
    expect(inCheckout.notes.some((n) => n.includes("shared read-only view"))).toBe(false);
    expect(inView.head_commit).not.toBeNull();
    // The same commit both ways: same tree, same parent, same identity and clock.
    expect(git(repo.path, "rev-parse", `${inView.head_commit}^{tree}`)).toBe(
      git(repo.path, "rev-parse", `${inCheckout.head_commit}^{tree}`),
    );
    expect(git(repo.path, "ls-tree", "-r", "--name-only", inView.head_commit ?? "", "--", ITEM)).toBe(
      `${ITEM}/item.txt\n${ITEM}/out.json`,
    );
    const a = comparable(inView) as Record<string, unknown>;
    const b = comparable(inCheckout) as Record<string, unknown>;
    // Attempt numbers, refs and commit messages name the attempt; nothing else may differ.
    expect({ ...a, attempt: 0, branch: "", head_commit: "" }).toEqual({
      ...b,
      attempt: 0,
      branch: "",
      head_commit: "",
    });
    const dirOf = (n: number) => path.join(store.path, "attempts", "build", String(n));
    for (const f of ["diff.patch", `outputs/${ITEM}/out.json`, "checks/validation-1/stdout"]) {
      if (!fs.existsSync(path.join(dirOf(2), f))) continue;
      expect(fs.readFileSync(path.join(dirOf(1), f), "utf8")).toBe(
        fs.readFileSync(path.join(dirOf(2), f), "utf8"),
      );
    }
    expect(inView.checks.map((c) => [c.id, c.passed])).toEqual([["validation-1", true]]);
    viewMatchesBase(inView.base_commit);
  });
});

describe.runIf(probe.ok)("an item whose folder the base already has", () => {
  it("sees and changes the folder's files as in a checkout, and records the same commit", async () => {
    fs.mkdirSync(path.join(repo.path, ITEM), { recursive: true });
    fs.writeFileSync(path.join(repo.path, ITEM, "old.txt"), "old\n");
    fs.writeFileSync(path.join(repo.path, ITEM, "gone.txt"), "gone\n");
    git(repo.path, "add", "-A");
    git(repo.path, "commit", "-qm", "earlier work");
    const script = `cat "$DWM_PACKET_ID/old.txt" > "$DWM_PACKET_ID/out.json" && echo new >> "$DWM_PACKET_ID/old.txt" && rm "$DWM_PACKET_ID/gone.txt"`;
    const inView = await run(item(script), 1, { views });
    const inCheckout = await run(item(script), 2);
    expect(inView.notes[0]).toMatch(/^ran in the shared read-only view/);
    expect(git(repo.path, "rev-parse", `${inView.head_commit}^{tree}`)).toBe(
      git(repo.path, "rev-parse", `${inCheckout.head_commit}^{tree}`),
    );
    expect(inView.changed_files.map((c) => [c.path, c.status])).toEqual([
      [`${ITEM}/gone.txt`, "deleted"],
      [`${ITEM}/old.txt`, "modified"],
      [`${ITEM}/out.json`, "added"],
    ]);
    expect(inView.changed_files).toEqual(inCheckout.changed_files);
    viewMatchesBase(inView.base_commit);
  });
});

describe.runIf(probe.ok)("a hostile worker in the shared view", () => {
  /** Run `steps` in the item's folder-less view, each step's exit status and stderr kept in the folder. */
  function hostile(steps: string[]): string {
    const lines = steps.map((s, i) => `( ${s} ) 2>"$F/err${i}.txt"; echo "$?" >"$F/rc${i}.txt"`);
    return [`F="$DWM_PACKET_ID"`, 'mkdir -p "$F"', ...lines, `printf '{}\\n' > "$F/out.json"`].join("\n");
  }
  const rc = (a: Attempt, i: number) => git(repo.path, "show", `${a.head_commit}:${ITEM}/rc${i}.txt`).trim();
  const err = (a: Attempt, i: number) => git(repo.path, "show", `${a.head_commit}:${ITEM}/err${i}.txt`);
  const outsideFolder = (a: Attempt) =>
    git(repo.path, "diff", "--name-only", a.base_commit, a.head_commit ?? "")
      .split("\n")
      .filter((p) => p !== "" && !p.startsWith(`${ITEM}/`));

  it("cannot write the view, its git folder or another item's folder; /tmp vanishes; the view stays the base", async () => {
    const a = await run(
      item(
        hostile([
          "echo x > README.md",
          "echo x > src/new.txt",
          "mkdir -p check/b-99999999 && echo x > check/b-99999999/out.json",
          "echo x > .git/HEAD",
          "git config user.name attacker",
          "rm -rf .git",
          "echo x > /tmp/leak.txt && test -s /tmp/leak.txt",
          "echo x > .dwm-inputs/fanout-item.json",
        ]),
      ),
      1,
      { views },
    );
    expect(a.outcome).toBe("ok");
    for (const i of [0, 1, 2, 3, 4, 5, 7]) expect(rc(a, i)).not.toBe("0");
    expect(err(a, 0)).toMatch(/Read-only file system/);
    expect(err(a, 2)).toMatch(/Read-only file system/);
    expect(err(a, 3)).toMatch(/Read-only file system/);
    expect(rc(a, 6)).toBe("0");
    expect(outsideFolder(a)).toEqual([]);
    expect(a.changed_files.map((c) => c.path).every((p) => p.startsWith(`${ITEM}/`))).toBe(true);
    viewMatchesBase(a.base_commit);
    // The next attempt in the same view sees the base as it was.
    const next = await run(
      item(
        `mkdir -p "$DWM_PACKET_ID" && cat README.md > "$DWM_PACKET_ID/out.json" && ls -a .git > "$DWM_PACKET_ID/git.txt"`,
      ),
      2,
      { views },
    );
    expect(git(repo.path, "show", `${next.head_commit}:${ITEM}/out.json`)).toBe("# demo");
    expect(views.bases()).toEqual([a.base_commit]);
  });

  it("gets no symbolic link, hard link, FIFO or oversized file recorded, and a finding for each", async () => {
    const secret = path.join(repo.path, ".dwm", "runs", "r", "secret.txt");
    const b = await runAttempt(
      request(
        repo.path,
        item(
          hostile([
            'ln -s ../../README.md "$F/to-view"',
            `ln -s ${secret} "$F/to-store"`,
            'ln README.md "$F/hard-view"',
            'echo mine > "$F/x" && ln "$F/x" "$F/y"',
            'mkfifo "$F/fifo"',
            'head -c 3000 /dev/zero > "$F/big.bin"',
          ]),
        ),
        {},
        {
          attempt: 2,
          inputs: [input("fanout-item.json", '{"file":"a"}\n')],
          limits: { timeout_ms: 20_000, kill_grace_ms: 200, max_output_bytes: 2048 },
        },
      ),
      { ...ports(store, {}, 2), sandbox, views },
    );
    expect(rc(b, 2)).not.toBe("0"); // a hard link out of the folder cannot be made (read-only, another mount)
    const tree = git(repo.path, "ls-tree", "-r", "--name-only", b.head_commit ?? "", "--", ITEM).split("\n");
    for (const gone of ["to-view", "to-store", "x", "y", "fifo", "big.bin"])
      expect(tree).not.toContain(`${ITEM}/${gone}`);
    expect(tree).toContain(`${ITEM}/out.json`);
    const own = b.findings.find((f) => f.code === "ownership-violation");
    expect(own?.paths).toEqual([
      `${ITEM}/fifo`,
      `${ITEM}/to-store`,
      `${ITEM}/to-view`,
      `${ITEM}/x`,
      `${ITEM}/y`,
    ]);
    expect(own?.worker_id).toBe("command");
    expect(
      b.findings.find((f) => f.code === "output-truncated" && f.paths.includes(`${ITEM}/big.bin`)),
    ).toBeDefined();
    expect(JSON.stringify(b)).not.toContain("RUN STORE");
    viewMatchesBase(b.base_commit);
  });

  it("lets one item neither see nor write another's outputs while both run", async () => {
    const script = (tag: string) =>
      `mkdir -p "$DWM_PACKET_ID" && echo ${tag} > "$DWM_PACKET_ID/mine.txt" && sleep 0.5 && (find check -type f | sort) > /tmp/seen.txt && mv /tmp/seen.txt "$DWM_PACKET_ID/seen.txt" && printf '{}\\n' > "$DWM_PACKET_ID/out.json"`;
    const b = "check/b-99999999";
    const [ra, rb] = await Promise.all([
      run(item(script("A")), 1, { views }),
      runAttempt(
        request(
          repo.path,
          item(script("B"), b),
          {},
          { inputs: [input("fanout-item.json", '{"file":"b"}\n')] },
        ),
        { ...ports(store, {}, 2), sandbox, views },
      ),
    ]);
    expect(git(repo.path, "show", `${ra.head_commit}:${ITEM}/seen.txt`)).toBe(
      `check/a-1234abcd/mine.txt\ncheck/existing.txt`,
    );
    expect(git(repo.path, "show", `${rb.head_commit}:${b}/seen.txt`)).toBe(
      `check/b-99999999/mine.txt\ncheck/existing.txt`,
    );
    expect(fs.readdirSync(viewRoot).filter((n) => !n.startsWith("."))).toEqual([ra.base_commit]);
    expect(fs.readdirSync(viewRoot).filter((n) => n.startsWith(".build-"))).toEqual([]);
  });

  it("cannot change the repository's refs, config or hooks (why a view attempt needs no repository snapshot)", async () => {
    const refs = () => git(repo.path, "for-each-ref", "--format=%(refname) %(objectname)");
    const config = () => fs.readFileSync(path.join(repo.path, ".git", "config"), "utf8");
    const before = {
      refs: refs(),
      config: config(),
      hooks: fs.readdirSync(path.join(repo.path, ".git", "hooks")),
    };
    const r = repo.path;
    const a = await run(
      item(
        hostile([
          `git -C ${r} update-ref refs/heads/forged HEAD`,
          `git -C ${r} config core.hooksPath /x`,
          `echo x > ${r}/.git/hooks/post-merge && test -s ${r}/.git/hooks/post-merge && test -d ${r}/.git/refs/heads && echo x > ${r}/.git/refs/heads/main`,
        ]),
      ),
      1,
      { views },
    );
    expect(a.outcome).toBe("ok");
    expect(a.notes.some((n) => n.includes("shared read-only view"))).toBe(true);
    for (const i of [0, 1, 2]) expect(rc(a, i)).not.toBe("0");
    expect(a.findings.filter((f) => f.code === "repository-changed")).toEqual([]);
    const own = `refs/dwm/${a.run_id}/attempts/${ITEM}/1 ${a.head_commit}`;
    expect(refs().split("\n").sort()).toEqual([...before.refs.split("\n"), own].sort());
    expect({ config: config(), hooks: fs.readdirSync(path.join(repo.path, ".git", "hooks")) }).toEqual({
      config: before.config,
      hooks: before.hooks,
    });
  });

  it("without a sandbox, keeps its checkout and the repository check: a forged ref is a repository-changed finding", async () => {
    const a = await run(
      item(
        `mkdir -p "$DWM_PACKET_ID" && printf '{}\\n' > "$DWM_PACKET_ID/out.json" && git -C ${repo.path} update-ref refs/heads/forged HEAD`,
      ),
      1,
      { views, sandbox: noSandbox },
    );
    expect(a.findings.filter((f) => f.code === "repository-changed")).toEqual([
      {
        code: "repository-changed",
        message: "the attempt changed 1 ref(s) of the repository besides its own branch: refs/heads/forged",
        worker_id: null,
        paths: ["refs/heads/forged"],
      },
    ]);
  });

  it("keeps a checkout of its own without a sandbox (nothing could hold the view read-only)", async () => {
    const a = await run(
      item(`mkdir -p "$DWM_PACKET_ID" && printf '{}\\n' > "$DWM_PACKET_ID/out.json" && echo x > README.md`),
      1,
      {
        views,
        sandbox: noSandbox,
      },
    );
    expect(a.sandbox).toBe("none");
    expect(a.notes.some((n) => n.includes("shared read-only view"))).toBe(false);
    expect(views.bases()).toEqual([]);
    // In its own checkout the write outside the folder happened and was committed, as before.
    expect(outsideFolder(a)).toEqual(["README.md"]);
  });
});
