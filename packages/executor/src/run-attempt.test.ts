import fs from "node:fs";
import path from "node:path";
import { digestBytes, nodeProcessRunner, readArtifact } from "@dwm/core";
import type { Attempt } from "@dwm/schemas";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { attemptFiles } from "./attempt-files.js";
import { createGit, type GitPort } from "./internal/git.js";
import { runAttempt } from "./run-attempt.js";
import { packet, ports, request, snapshot, worker } from "./test-support/builders.js";

let repo: TempDir;
let store: TempDir;

beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# demo\n", "src/main.txt": "main\n", "docs/guide.md": "guide\n" });
  store = makeTempDir("dwm-exec-");
});
afterEach(() => {
  repo.cleanup();
  store.cleanup();
});

function worktrees(): string[] {
  return git(repo.path, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "));
}

function readBack(p: ReturnType<typeof ports>): Attempt {
  return readArtifact<Attempt>(path.join(p.attemptDir, "attempt.json"), "attempt").value;
}

describe("runAttempt with the shell backend", () => {
  it("runs in a worktree, commits the work on the attempt branch, records diff, outputs and checks, and leaves the source untouched", async () => {
    const before = snapshot(repo.path);
    const p = ports(store);
    const script =
      'printf "app\\n" > src/app.txt && printf "# report\\n" > report.md && echo worked && echo warn >&2';
    const a = await runAttempt(
      request(repo.path, packet(), { builder: { backend: "shell", shell: true, command: script } }),
      p,
    );

    expect(a.outcome).toBe("ok");
    expect(a.exit_code).toBe(0);
    expect(a.branch).toBe("refs/dwm/demo-0123456789ab/attempts/build/1");
    // The work is kept under refs/dwm/, never as a branch.
    expect(git(repo.path, "rev-parse", "refs/dwm/demo-0123456789ab/attempts/build/1")).toBe(a.head_commit);
    expect(git(repo.path, "for-each-ref", "--format=%(refname)", "refs/heads/")).toBe("refs/heads/main");
    expect(a.started_at).toBe("2026-03-01T12:00:00.000Z");
    expect(a.invocations).toHaveLength(1);
    const inv = a.invocations[0];
    expect(inv?.argv).toEqual(["sh", "-c", script]);
    expect(inv?.outcome).toBe("ok");
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/stdout"), "utf8")).toBe("worked\n");
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/stderr"), "utf8")).toBe("warn\n");
    expect(inv?.env_names).toEqual(
      expect.arrayContaining(["PATH", "HOME", "LANG", "DWM_PROMPT_FILE", "DWM_WORKTREE", "DWM_RUN_ID"]),
    );

    expect(a.changed_files).toEqual([
      { path: "report.md", status: "added", workers: ["builder"] },
      { path: "src/app.txt", status: "added", workers: ["builder"] },
    ]);
    const patch = fs.readFileSync(path.join(p.attemptDir, "diff.patch"), "utf8");
    expect(patch).toContain("+++ b/src/app.txt");
    expect(patch).toContain("+app");
    expect(a.outputs).toEqual([
      {
        artifact: "report.md",
        checked: true,
        found: true,
        path: "outputs/report.md",
        digest: digestBytes("# report\n"),
        bytes: 9,
      },
    ]);
    expect(a.checks).toEqual([
      expect.objectContaining({
        id: "validation-1",
        kind: "validation",
        command: "test -s report.md",
        exit_code: 0,
        passed: true,
      }),
    ]);
    expect(a.findings).toEqual([]);

    // The attempt's ref holds DWM's commit of the work, with DWM's identity and the clock's date.
    expect(a.head_commit).toBe(git(repo.path, "rev-parse", "refs/dwm/demo-0123456789ab/attempts/build/1"));
    expect(git(repo.path, "log", "-1", "--format=%an <%ae> %at %P", a.head_commit ?? "")).toBe(
      `DWM <dwm@dwm.invalid> ${Date.parse("2026-03-01T12:00:00.000Z") / 1000} ${a.base_commit}`,
    );
    expect(git(repo.path, "show", `${a.head_commit}:src/app.txt`)).toBe("app");

    // Worktree gone, source checkout byte-identical, temp folder removed.
    expect(worktrees()).toHaveLength(1);
    expect(snapshot(repo.path)).toEqual(before);
    expect(fs.readdirSync(store.path).filter((f) => f.startsWith("dwm-wt-"))).toEqual([]);

    // attempt.json is the last file, lists every other one with its raw digest, and reads back verified.
    expect(readBack(p)).toEqual(a);
    const listed = a.files.map((f) => f.path);
    expect(listed).toEqual([
      "checks/validation-1.stderr",
      "checks/validation-1.stdout",
      "diff.patch",
      "outputs/report.md",
      "workers/1-builder/prompt.md",
      "workers/1-builder/stderr",
      "workers/1-builder/stdout",
    ]);
    for (const f of a.files) {
      const data = fs.readFileSync(path.join(p.attemptDir, f.path));
      expect(f.digest).toBe(digestBytes(data));
      expect(f.bytes).toBe(data.length);
    }
    const named = attemptFiles(a, "attempts/build/1");
    expect(named.at(-1)).toEqual({
      path: "attempts/build/1/attempt.json",
      digest: digestBytes(fs.readFileSync(path.join(p.attemptDir, "attempt.json"))),
    });
    expect(named).toHaveLength(a.files.length + 1);
    expect(JSON.stringify(a)).not.toContain(store.path);
    expect(JSON.stringify(a)).not.toContain(repo.path);
  });

  it("runs an argv without a shell, gives the prompt as DWM_PROMPT_FILE, and appends the repair context", async () => {
    const p = ports(store);
    const a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { backend: "shell", argv: ["cp", "/dev/null", "$DWM_PROMPT_FILE"] } },
        {
          repair_context: "## Repair\n\nFix the finding.",
        },
      ),
      p,
    );
    // No shell: the literal "$DWM_PROMPT_FILE" is an argument, so cp creates that file name.
    expect(a.changed_files.map((c) => c.path)).toEqual(["$DWM_PROMPT_FILE"]);
    const p2 = ports(store, {}, 2);
    const b = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { backend: "shell", shell: true, command: 'cp "$DWM_PROMPT_FILE" src/seen.md' } },
        {
          attempt: 2,
          repair_context: "## Repair\n\nFix the finding.",
        },
      ),
      p2,
    );
    expect(b.outcome).toBe("ok");
    const seen = git(repo.path, "show", `${b.head_commit}:src/seen.md`);
    expect(seen).toBe("# build\n\nWrite src/app.txt and report.md.\n\n## Repair\n\nFix the finding.");
    expect(b.repair_context_digest).toBe(digestBytes("## Repair\n\nFix the finding."));
    expect(fs.readFileSync(path.join(p2.attemptDir, "workers/1-builder/prompt.md"), "utf8")).toBe(
      `${seen}\n`,
    );
  });

  it("takes the changed files from its one staging (no second diff) and they equal git's diff of base and head", async () => {
    const inner = createGit(nodeProcessRunner, process.env);
    const calls: string[][] = [];
    const counting: GitPort = {
      run(cwd, args, options) {
        calls.push([...args]);
        return inner.run(cwd, args, options);
      },
      admin: inner.admin,
    };
    const nameStatus = (a: Attempt) =>
      git(repo.path, "diff", "--name-status", "--no-renames", a.base_commit, a.head_commit ?? "")
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([s, p]) => [p, { A: "added", M: "modified", D: "deleted", T: "type-changed" }[s ?? ""]]);
    const script =
      "echo new > src/new.txt; echo changed > src/main.txt; rm docs/guide.md; rm README.md; ln -s src/main.txt README.md";
    const one = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: { backend: "shell", shell: true, command: script },
      }),
      { ...ports(store), git: counting },
    );
    expect(one.changed_files.map((c) => [c.path, c.status])).toEqual(nameStatus(one));
    expect(one.changed_files.map((c) => c.status).sort()).toEqual([
      "added",
      "deleted",
      "modified",
      "type-changed",
    ]);
    expect(calls.filter((c) => c[0] === "diff" && c.includes("--name-status"))).toEqual([]);
    // Two workers: the second staging starts from the first's tree, so git is asked for base → head.
    calls.length = 0;
    const pk = packet({ outputs: [], workers: [worker("first"), worker("second")] });
    const two = await runAttempt(
      request(repo.path, pk, {
        first: { backend: "shell", shell: true, command: "echo a > src/a.txt; echo b > src/b.txt" },
        second: { backend: "shell", shell: true, command: "rm src/a.txt; echo m > src/main.txt" },
      }),
      ports(store, {}, 2),
    );
    expect(two.changed_files.map((c) => [c.path, c.status, c.workers])).toEqual([
      ["src/b.txt", "added", ["first"]],
      ["src/main.txt", "modified", ["second"]],
    ]);
  });

  it("a non-zero exit is task-failed, later workers do not run, and checks are skipped", async () => {
    const p = ports(store);
    const pk = packet({ workers: [worker("first"), worker("second")] });
    const a = await runAttempt(
      request(repo.path, pk, {
        first: { backend: "shell", shell: true, command: "echo partial > src/partial.txt; exit 3" },
        second: { backend: "shell", argv: ["true"] },
      }),
      p,
    );
    expect(a.outcome).toBe("task-failed");
    expect(a.exit_code).toBe(3);
    expect(a.invocations.map((i) => [i.worker_id, i.outcome])).toEqual([
      ["first", "task-failed"],
      ["second", "not-run"],
    ]);
    expect(a.checks).toEqual([]);
    expect(a.notes).toContain("1 check(s) not run: the work did not end ok");
    // The partial work is still committed and recorded for the reviewer.
    expect(a.changed_files.map((c) => c.path)).toEqual(["src/partial.txt"]);
    expect(a.findings).toEqual([expect.objectContaining({ code: "output-missing", paths: ["report.md"] })]);
  });

  it("stages the work even when a killed worker left its checkout's index.lock behind (DWM stages with its own index)", async () => {
    const p = ports(store);
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: {
          backend: "shell",
          shell: true,
          command: 'echo y > src/y.txt; touch "$(git rev-parse --git-dir)/index.lock"',
        },
      }),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.changed_files.map((c) => c.path)).toEqual(["src/y.txt"]);
    // The worker's git folder is its own: its lock is no obstacle and nothing needs removing.
    expect(a.notes.filter((n) => n.includes("index.lock"))).toEqual([]);
    expect(a.findings).toEqual([]);
  });

  it("a program that is not on PATH is backend-missing, with no worktree", async () => {
    const p = ports(store);
    const a = await runAttempt(
      request(repo.path, packet(), { builder: { backend: "shell", argv: ["dwm-no-such-tool", "x"] } }),
      p,
    );
    expect(a.outcome).toBe("backend-missing");
    expect(a.branch).toBeNull();
    expect(a.head_commit).toBeNull();
    expect(a.invocations[0]?.outcome).toBe("backend-missing");
    expect(git(repo.path, "for-each-ref", "refs/dwm/", "refs/heads/dwm/")).toBe("");
    expect(worktrees()).toHaveLength(1);
  });

  it("dry-run records what would run and starts nothing", async () => {
    const p = ports(store);
    const a = await runAttempt(request(repo.path, packet(), { "*": { backend: "dry-run" } }), p);
    expect(a.dry_run).toBe(true);
    expect(a.outcome).toBe("ok");
    expect(a.branch).toBeNull();
    expect(a.invocations).toEqual([
      expect.objectContaining({
        worker_id: "builder",
        backend: "dry-run",
        argv: [],
        outcome: "not-run",
        detail: "dry run: nothing was started",
      }),
    ]);
    expect(a.files.map((f) => f.path)).toEqual(["workers/1-builder/prompt.md"]);
    expect(git(repo.path, "for-each-ref", "refs/dwm/", "refs/heads/dwm/")).toBe("");
  });

  it("uses the request's branch when it names one", async () => {
    const a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        { builder: { backend: "shell", shell: true, command: "echo x > src/x.txt" } },
        {
          branch: "refs/dwm/demo-0123456789ab/attempts/build/exec-1",
        },
      ),
      ports(store),
    );
    expect(a.branch).toBe("refs/dwm/demo-0123456789ab/attempts/build/exec-1");
    expect(git(repo.path, "rev-parse", "refs/dwm/demo-0123456789ab/attempts/build/exec-1")).toBe(
      a.head_commit,
    );
    expect(git(repo.path, "for-each-ref", "refs/dwm/demo-0123456789ab/attempts/build/1")).toBe("");
  });

  it("a packet command runs as the work (0.6 command phases)", async () => {
    const p = ports(store);
    const pk = packet({
      workers: [],
      outputs: [],
      command: { argv: ["sh", "-c", "echo built > src/out.txt"] },
    });
    const a = await runAttempt(request(repo.path, pk, {}), p);
    expect(a.outcome).toBe("ok");
    expect(a.invocations.map((i) => [i.worker_id, i.backend, i.argv])).toEqual([
      ["command", "shell", ["sh", "-c", "echo built > src/out.txt"]],
    ]);
    expect(a.changed_files).toEqual([{ path: "src/out.txt", status: "added", workers: ["command"] }]);
  });
});

describe("enforcement findings", () => {
  it("flags a read-only worker that edits a file, but not its declared output", async () => {
    const p = ports(store);
    const pk = packet({ workers: [worker("reader", {}, { write: false })] });
    const a = await runAttempt(
      request(repo.path, pk, {
        reader: {
          backend: "shell",
          shell: true,
          command: "echo changed >> docs/guide.md; echo ok > report.md",
        },
      }),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.findings).toEqual([
      {
        code: "read-only-violation",
        message: "read-only worker reader changed 1 file(s)",
        worker_id: "reader",
        paths: ["docs/guide.md"],
      },
    ]);
  });

  it("flags changes outside path ownership, and notes prose ownership as unrestricted", async () => {
    const p = ports(store);
    const pk = packet({
      workers: [
        worker("coder", { ownership: ["src/**", "README.md"] }),
        worker("writer", { ownership: ["surface discovery"] }),
      ],
      outputs: [],
    });
    const a = await runAttempt(
      request(repo.path, pk, {
        coder: {
          backend: "shell",
          shell: true,
          command: "echo a > src/a.txt; echo b >> README.md; echo c > docs/c.md",
        },
        writer: { backend: "shell", shell: true, command: "echo d > anywhere.txt" },
      }),
      p,
    );
    expect(a.findings).toEqual([
      {
        code: "ownership-violation",
        message: "worker coder changed 1 file(s) outside its ownership (src/**, README.md)",
        worker_id: "coder",
        paths: ["docs/c.md"],
      },
    ]);
    expect(a.notes).toContain(
      'worker writer may write and its ownership names no paths ("surface discovery"): its changes are not restricted',
    );
    expect(a.changed_files.find((c) => c.path === "anywhere.txt")?.workers).toEqual(["writer"]);
  });

  it("never follows a symbolic link planted as a declared output", async () => {
    const p = ports(store);
    const a = await runAttempt(
      request(repo.path, packet(), {
        builder: { backend: "shell", argv: ["ln", "-s", "/etc/hostname", "report.md"] },
      }),
      p,
    );
    expect(a.outputs).toEqual([
      { artifact: "report.md", checked: true, found: false, path: null, digest: null, bytes: null },
    ]);
    expect(a.findings.map((f) => [f.code, f.paths])).toEqual([["output-missing", ["report.md"]]]);
    expect(a.files.map((f) => f.path)).not.toContain("outputs/report.md");
  });

  it("copies handoff inputs under .dwm-inputs/, keeps them out of the diff, and refuses a wrong digest", async () => {
    const p = ports(store);
    const inp = {
      artifact: "inventory.json",
      digest: digestBytes('{"a":1}\n'),
      content_base64: Buffer.from('{"a":1}\n').toString("base64"),
    };
    const a = await runAttempt(
      request(
        repo.path,
        packet({ outputs: [] }),
        {
          builder: { backend: "shell", shell: true, command: "cp .dwm-inputs/inventory.json src/copy.json" },
        },
        {
          inputs: [inp],
        },
      ),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.inputs).toEqual([
      { artifact: "inventory.json", digest: inp.digest, path: ".dwm-inputs/inventory.json" },
    ]);
    expect(a.changed_files.map((c) => c.path)).toEqual(["src/copy.json"]);
    expect(fs.readFileSync(path.join(p.attemptDir, "diff.patch"), "utf8")).not.toContain(".dwm-inputs");
    expect(fs.readFileSync(path.join(p.attemptDir, "workers/1-builder/prompt.md"), "utf8")).toContain(
      "`.dwm-inputs/inventory.json`",
    );

    await expect(
      runAttempt(
        request(
          repo.path,
          packet(),
          { builder: { backend: "shell", argv: ["true"] } },
          { attempt: 2, inputs: [{ ...inp, digest: digestBytes("other") }] },
        ),
        ports(store, {}, 2),
      ),
    ).rejects.toMatchObject({ code: "ERR_EXEC_INPUT_DIGEST" });
  });

  it("runs verification commands from evidence_required, not paths or prose", async () => {
    const p = ports(store);
    const pk = packet({
      verification: [
        {
          claim_or_output: "the report exists",
          falsifier: "it does not",
          evidence_required: [
            "report.md",
            "test -s report.md",
            "sh -c 'exit 4'",
            "source review of src/main.txt",
          ],
        },
      ],
    });
    const a = await runAttempt(
      request(repo.path, pk, { builder: { backend: "shell", shell: true, command: "echo r > report.md" } }),
      p,
    );
    expect(a.checks.map((c) => [c.id, c.kind, c.command, c.exit_code, c.passed])).toEqual([
      ["validation-1", "validation", "test -s report.md", 0, true],
      ["verification-1", "verification", "sh -c 'exit 4'", 4, false],
    ]);
  });
});

describe("an attempt that changes nothing", () => {
  it("records an empty diff and no changed files without asking git for a diff", async () => {
    const p = ports(store);
    const calls: (readonly string[])[] = [];
    const runner = p.processRunner;
    const a = await runAttempt(
      request(repo.path, packet(), { builder: { backend: "shell", argv: ["true"] } }),
      {
        ...p,
        processRunner: {
          run: (req) => {
            calls.push(req.argv);
            return runner.run(req);
          },
        },
      },
    );
    expect(a.outcome).toBe("ok");
    expect(a.head_commit).toBe(a.base_commit);
    expect(a.changed_files).toEqual([]);
    expect(a.diff).toBe("diff.patch");
    expect(fs.readFileSync(path.join(p.attemptDir, "diff.patch"), "utf8")).toBe("");
    expect(calls.filter((c) => c[0] === "git" && c[1] === "diff")).toEqual([]);
    expect(a.files.map((f) => f.path)).toContain("diff.patch");
  });
});

describe("errors before anything runs", () => {
  it("has stable codes for a bad request, a missing binding, a bad base commit and a finished attempt", async () => {
    const p = ports(store);
    const ok = request(repo.path, packet(), { builder: { backend: "shell", argv: ["true"] } });
    await expect(runAttempt({ ...ok, attempt: 0 }, p)).rejects.toMatchObject({
      code: "ERR_EXEC_REQUEST_INVALID",
    });
    await expect(
      runAttempt(request(repo.path, packet(), { other: { backend: "dry-run" } }), p),
    ).rejects.toMatchObject({
      code: "ERR_EXEC_NO_BINDING",
    });
    await expect(runAttempt({ ...ok, base_commit: "0".repeat(40) }, p)).rejects.toMatchObject({
      code: "ERR_EXEC_BASE_COMMIT",
    });
    const notRepo = makeTempDir("dwm-not-a-repo-");
    try {
      await expect(runAttempt({ ...ok, repo: notRepo.path }, p)).rejects.toMatchObject({
        code: "ERR_EXEC_NOT_A_REPO",
      });
    } finally {
      notRepo.cleanup();
    }
    await expect(
      runAttempt(request(repo.path, packet(), { builder: { backend: "shell", command: "true" } }), p),
    ).rejects.toMatchObject({ code: "ERR_EXEC_BACKEND_UNAVAILABLE" });
    await expect(runAttempt(ok, { ...p, worktreeRoot: path.join(repo.path, "src") })).rejects.toMatchObject({
      code: "ERR_EXEC_WORKTREE_ROOT",
    });
    await runAttempt(ok, p);
    await expect(runAttempt(ok, p)).rejects.toMatchObject({ code: "ERR_EXEC_ATTEMPT_EXISTS" });
  });

  it("restarts an attempt directory a crash left without attempt.json", async () => {
    const p = ports(store);
    fs.mkdirSync(path.join(p.attemptDir, "workers"), { recursive: true });
    fs.writeFileSync(path.join(p.attemptDir, "workers", "junk"), "left by a crash");
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), { builder: { backend: "shell", argv: ["true"] } }),
      p,
    );
    expect(a.files.map((f) => f.path)).not.toContain("workers/junk");
  });
});

describe("parallel attempts", () => {
  it("four attempts on one repository at once all get their worktree and branch", async () => {
    const runs = [1, 2, 3, 4].map((n) =>
      runAttempt(
        request(
          repo.path,
          packet({ outputs: [] }),
          { builder: { backend: "shell", shell: true, command: `echo ${n} > src/n.txt` } },
          {
            attempt: n,
          },
        ),
        ports(store, {}, n),
      ),
    );
    const done = await Promise.all(runs);
    expect(done.map((a) => a.outcome)).toEqual(["ok", "ok", "ok", "ok"]);
    for (const [i, a] of done.entries())
      expect(git(repo.path, "show", `${a.head_commit}:src/n.txt`)).toBe(String(i + 1));
    expect(worktrees()).toHaveLength(1);
  });
});
