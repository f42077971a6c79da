// A worker in the real bubblewrap sandbox, with the view DWM gives it: what it can and cannot
// do to the repository, the run store, the home folder, its inputs and its own checkout.
// scripts/ci-setup.sh (run by `pnpm test` and CI) installs bubblewrap; where it does not work, the
// suite fails with why. Skipped only when the user left it out: DWM_TEST_SKIP=bubblewrap.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bubblewrapSandbox, nodeProcessRunner, type SandboxView } from "@dwm/core";
import { leftOut, missingPartMessage } from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckout, fetchIntoRepository, readWorkerHead, trustedGitEnv } from "./internal/checkout.js";
import { createGit, gitOk } from "./internal/git.js";
import { checkoutFlagFindings, compareRepositorySnapshots, snapshotRepository } from "./repo-integrity.js";
import { loopbackEndpoint, WORKER_IO, WORKER_IO_DIR, workerNetwork, workerView } from "./worker-view.js";

const sandbox = bubblewrapSandbox();
const probe = await sandbox.probe();
if (!probe.ok && !leftOut("bubblewrap"))
  throw new Error(missingPartMessage("bubblewrap", probe.reason ?? undefined));

const hostEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.homedir() };
const git = createGit(nodeProcessRunner, hostEnv);
const IDENTITY = {
  GIT_AUTHOR_NAME: "Worker",
  GIT_AUTHOR_EMAIL: "worker@dwm.invalid",
  GIT_COMMITTER_NAME: "Worker",
  GIT_COMMITTER_EMAIL: "worker@dwm.invalid",
};

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...IDENTITY } }).trim();
}

// Outside /tmp: a repository, store or home under /tmp would be invisible inside anyway (the
// sandbox's /tmp is private), and the tests would prove nothing.
let root: string;
let repo: string;
let home: string;
let base: string;
let n = 0;

interface Worker {
  checkout: string;
  ioDir: string;
  inputsDir: string;
  view: SandboxView;
}

async function newWorker(
  options: { writable?: boolean; network?: SandboxView["network"] } = {},
): Promise<Worker> {
  n++;
  const dir = path.join(root, `attempt-${n}`);
  fs.mkdirSync(dir);
  const co = await createCheckout(git, repo, base, path.join(dir, "wt"));
  const ioDir = path.join(dir, "io");
  fs.mkdirSync(path.join(ioDir, "out"), { recursive: true });
  fs.writeFileSync(path.join(ioDir, "prompt.md"), "Do the thing.\n");
  const inputsDir = path.join(dir, "inputs");
  fs.mkdirSync(inputsDir);
  fs.writeFileSync(path.join(inputsDir, "findings.json"), '{"items":[1]}\n');
  fs.mkdirSync(path.join(co.dir, ".dwm-inputs"));
  const view = workerView({
    checkout: co.dir,
    checkoutWritable: options.writable ?? true,
    objectDirs: co.objectDirs,
    ioDir,
    inputsDir,
    stores: [path.join(repo, ".dwm")],
    home,
    network: options.network ?? "none",
  });
  return { checkout: co.dir, ioDir, inputsDir, view };
}

async function runIn(w: Worker, script: string) {
  const prepared = await sandbox.prepare(
    {
      argv: ["sh", "-c", script],
      cwd: w.checkout,
      env: { ...hostEnv, HOME: home, ...IDENTITY, DWM_PROMPT_FILE: WORKER_IO.promptFile },
      timeoutMs: 60_000,
    },
    w.view,
  );
  try {
    return await nodeProcessRunner.run(prepared.request);
  } finally {
    await prepared.dispose();
  }
}

describe.skipIf(leftOut("bubblewrap"))("a worker in the bubblewrap sandbox", () => {
  beforeAll(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.homedir(), ".dwm-worker-test-")));
    repo = path.join(root, "repo");
    fs.mkdirSync(path.join(repo, "scripts"), { recursive: true });
    sh(repo, "init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "README.md"), "# repo\n");
    fs.writeFileSync(path.join(repo, "scripts", "check.sh"), "#!/bin/sh\nexit 1\n");
    sh(repo, "add", "-A");
    sh(repo, "commit", "-q", "-m", "initial");
    sh(repo, "gc", "-q");
    base = sh(repo, "rev-parse", "HEAD");
    fs.mkdirSync(path.join(repo, ".dwm", "runs", "r1", "approvals"), { recursive: true });
    fs.writeFileSync(path.join(repo, ".dwm", "runs", "r1", "journal.jsonl"), '{"seq":1}\n');
    home = path.join(root, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true });
    fs.writeFileSync(path.join(home, ".ssh", "id_ed25519"), "PRIVATE KEY\n");
    fs.mkdirSync(path.join(home, ".config", "dwm"), { recursive: true });
    fs.writeFileSync(path.join(home, ".config", "dwm", "operator.key"), "OPERATOR KEY\n");
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("cannot read or write the run store (.dwm/)", async () => {
    const w = await newWorker();
    const r = await runIn(
      w,
      `ls -A ${repo}/.dwm; cat ${repo}/.dwm/runs/r1/journal.jsonl; echo '{}' > ${repo}/.dwm/runs/r1/approvals/x.json; echo end`,
    );
    expect(r.stdout).toBe("end\n");
    expect(fs.readdirSync(path.join(repo, ".dwm", "runs", "r1", "approvals"))).toEqual([]);
  });

  it("cannot read the home folder's credentials or DWM's keys", async () => {
    const w = await newWorker();
    const r = await runIn(
      w,
      `cat ~/.ssh/id_ed25519 ~/.config/dwm/operator.key; ls -A ~/.ssh ~/.config/dwm; echo end`,
    );
    expect(r.stdout).not.toMatch(/KEY|id_ed25519|operator\.key/);
    expect(r.stdout.endsWith("end\n")).toBe(true);
    expect(r.stderr).toMatch(/id_ed25519: No such file or directory/);
  });

  it("cannot move refs, set config or hooks, or delete history in the repository", async () => {
    const before = await snapshotRepository(git, repo);
    const w = await newWorker();
    const r = await runIn(
      w,
      [
        `git -C ${repo} update-ref refs/heads/main ${base}^{tree} 2>&1 | tail -1`,
        `git -C ${repo} update-ref refs/heads/forged ${base} 2>&1 | tail -1`,
        `git -C ${repo} config core.hooksPath /x 2>&1 | tail -1`,
        `echo 'exit 0' > ${repo}/.git/hooks/pre-commit 2>&1`,
        `rm -f ${repo}/.git/objects/pack/* 2>&1 | head -1`,
        `git -C ${repo} update-index --skip-worktree scripts/check.sh 2>&1 | tail -1`,
        "echo end",
      ].join("; "),
    );
    expect(r.stdout).toMatch(/end\n$/);
    expect(`${r.stdout}${r.stderr}`).toMatch(/Read-only file system/);
    const after = await snapshotRepository(git, repo);
    expect(compareRepositorySnapshots(before, after, { own: [] })).toEqual([]);
    expect(sh(repo, "rev-parse", "main")).toBe(base);
    expect(fs.readdirSync(path.join(repo, ".git", "objects", "pack")).length).toBeGreaterThan(0);
  });

  it("commits in its own checkout; DWM stages what it left, with its own git folder, and fetches the commit", async () => {
    const w = await newWorker();
    const r = await runIn(
      w,
      "echo work > work.txt && git add work.txt && git commit -q -m 'worker commit' && echo loose > loose.txt && git rev-parse HEAD",
    );
    expect(r.exitCode).toBe(0);
    const head = readWorkerHead(path.join(w.checkout, ".git"));
    expect(head).toBe(r.stdout.trim());
    const priv = path.join(path.dirname(w.checkout), "dwm.git");
    const env = await trustedGitEnv(git, { dir: w.checkout, objectDirs: [] }, priv, { workerObjects: true });
    // The repository's objects come in through the repository itself here (objectDirs empty): add them.
    fs.appendFileSync(
      path.join(priv, "objects", "info", "alternates"),
      `${path.join(repo, ".git", "objects")}\n`,
    );
    await gitOk(git, w.checkout, ["read-tree", head ?? ""], { env });
    await gitOk(git, w.checkout, ["add", "-A"], { env });
    const tree = (await gitOk(git, w.checkout, ["write-tree"], { env })).trim();
    const commit = (
      await gitOk(git, w.checkout, ["commit-tree", tree, "-p", head ?? "", "-m", "dwm"], {
        env: { ...env, ...IDENTITY },
      })
    ).trim();
    await fetchIntoRepository(git, repo, priv, commit, "dwm/r1/p/1");
    expect(sh(repo, "rev-parse", "dwm/r1/p/1")).toBe(commit);
    expect(sh(repo, "log", "--format=%s", "dwm/r1/p/1")).toBe("dwm\nworker commit\ninitial");
    expect(sh(repo, "ls-tree", "--name-only", "dwm/r1/p/1")).toBe("README.md\nloose.txt\nscripts\nwork.txt");
  });

  it("DWM's staging ignores the worker's config and index flags (no fsmonitor run, skip-worktree seen through)", async () => {
    const w = await newWorker();
    const marker = path.join(root, `pwned-${n}`);
    const r = await runIn(
      w,
      [
        `git config core.fsmonitor 'touch ${marker}; false'`,
        "git update-index --skip-worktree scripts/check.sh",
        "printf '#!/bin/sh\\nexit 0\\n' > scripts/check.sh",
        "git status --porcelain -- scripts",
      ].join(" && "),
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(""); // what the worker hoped: git itself no longer sees the change
    const priv = path.join(path.dirname(w.checkout), "dwm.git");
    const env = await trustedGitEnv(
      git,
      { dir: w.checkout, objectDirs: [path.join(repo, ".git", "objects")] },
      priv,
    );
    const flags = await gitOk(git, w.checkout, ["ls-files", "-z", "-t", "-v"], {
      env: { ...env, GIT_INDEX_FILE: path.join(w.checkout, ".git", "index") },
    });
    expect(checkoutFlagFindings(flags, "w1")).toEqual([
      {
        code: "repository-changed",
        message: "the worker set skip-worktree or assume-unchanged on 1 path(s) of its checkout's index",
        worker_id: "w1",
        paths: ["scripts/check.sh"],
      },
    ]);
    await gitOk(git, w.checkout, ["read-tree", base], { env });
    await gitOk(git, w.checkout, ["add", "-A"], { env });
    const changed = await gitOk(git, w.checkout, ["diff", "--cached", "--name-only", base], { env });
    expect(changed.trim()).toBe("scripts/check.sh");
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("reads its declared inputs and cannot change them", async () => {
    const w = await newWorker();
    const r = await runIn(
      w,
      "cat .dwm-inputs/findings.json; echo x > .dwm-inputs/findings.json; rm .dwm-inputs/findings.json; echo end",
    );
    expect(r.stdout).toBe('{"items":[1]}\nend\n');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(fs.readFileSync(path.join(w.inputsDir, "findings.json"), "utf8")).toBe('{"items":[1]}\n');
  });

  it("reads its prompt and writes its output inside the view, at paths that name no run store", async () => {
    const w = await newWorker();
    const r = await runIn(w, `cat "$DWM_PROMPT_FILE"; echo result > ${WORKER_IO.outputDir}/r.txt; echo end`);
    expect(r.stdout).toBe("Do the thing.\nend\n");
    expect(fs.readFileSync(path.join(w.ioDir, "out", "r.txt"), "utf8")).toBe("result\n");
    expect(WORKER_IO.promptFile.startsWith(`${WORKER_IO_DIR}/`)).toBe(true);
  });

  it("a read-only worker cannot change its checkout", async () => {
    const w = await newWorker({ writable: false });
    const r = await runIn(w, "echo x > README.md; git commit -q --allow-empty -m x; echo end");
    expect(r.stdout).toBe("end\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(readWorkerHead(path.join(w.checkout, ".git"))).toBe(base);
  });
});

describe("readWorkerHead", () => {
  it("follows a symbolic HEAD through loose and packed refs, and refuses anything else", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-head-"));
    try {
      const a = "a".repeat(40);
      fs.mkdirSync(path.join(d, "refs", "heads"), { recursive: true });
      fs.writeFileSync(path.join(d, "HEAD"), `${a}\n`);
      expect(readWorkerHead(d)).toBe(a);
      fs.writeFileSync(path.join(d, "HEAD"), "ref: refs/heads/x\n");
      expect(readWorkerHead(d)).toBe(null);
      fs.writeFileSync(path.join(d, "packed-refs"), `# pack-refs\n${"b".repeat(40)} refs/heads/x\n`);
      expect(readWorkerHead(d)).toBe("b".repeat(40));
      fs.writeFileSync(path.join(d, "refs", "heads", "x"), `${"c".repeat(40)}\n`);
      expect(readWorkerHead(d)).toBe("c".repeat(40));
      fs.writeFileSync(path.join(d, "HEAD"), "ref: refs/../../etc/passwd\n");
      expect(readWorkerHead(d)).toBe(null);
      fs.rmSync(path.join(d, "refs", "heads", "x"));
      fs.symlinkSync("/etc/hostname", path.join(d, "refs", "heads", "x"));
      fs.writeFileSync(path.join(d, "HEAD"), "ref: refs/heads/x\n");
      expect(readWorkerHead(d)).toBe("b".repeat(40));
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("workerNetwork", () => {
  it("gives shell workers nothing without permission, and agents only their loopback endpoint", () => {
    expect(workerNetwork("shell", false, undefined)).toEqual({ network: "none", note: null });
    expect(workerNetwork("command", false, undefined)).toEqual({ network: "none", note: null });
    expect(workerNetwork("shell", true, undefined)).toEqual({ network: "host", note: null });
    expect(workerNetwork("codex", false, "http://127.0.0.1:4100/v1")).toEqual({
      network: { endpoints: [{ host: "127.0.0.1", port: 4100 }] },
      note: null,
    });
    expect(workerNetwork("claude", true, "http://127.0.0.1:4100")).toEqual({ network: "host", note: null });
    const remote = workerNetwork("claude", false, undefined);
    expect(remote.network).toBe("host");
    expect(remote.note).toMatch(/not on the loopback interface/);
    expect(loopbackEndpoint("http://[::1]:9/")).toEqual({ host: "::1", port: 9 });
    expect(loopbackEndpoint("https://localhost/")).toEqual({ host: "localhost", port: 443 });
    expect(loopbackEndpoint("https://api.example.com/")).toBe(null);
  });
});
