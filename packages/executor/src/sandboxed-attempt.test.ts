// runAttempt with the real bubblewrap sandbox (CI installs it) and, where the point is what DWM
// notices when a sandbox did not hold, without one: the worker's paths, its view, the repository
// check, the worker's index flags, checks in a clean checkout, output caps.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bubblewrapSandbox, noSandbox } from "@dwm/core";
import { FakeSandbox, git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "./run-attempt.js";
import { input, packet, ports, request, worker } from "./test-support/builders.js";

const sandbox = bubblewrapSandbox();
const probe = await sandbox.probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);

let repo: TempDir;
let store: TempDir;
let outside: string;

beforeEach(() => {
  // Outside /tmp, so the sandbox's private /tmp does not hide the repository and store anyway.
  outside = fs.realpathSync(fs.mkdtempSync(path.join(os.homedir(), ".dwm-sandboxed-attempt-")));
  repo = makeGitRepo({
    "README.md": "# demo\n",
    "src/main.txt": "main\n",
    "scripts/check.sh": "#!/bin/sh\nexit 1\n",
    ".gitignore": "ignored.md\n",
  });
  store = makeTempDir("dwm-exec-");
  fs.mkdirSync(path.join(repo.path, ".dwm", "runs", "r", "approvals"), { recursive: true });
});
afterEach(() => {
  repo.cleanup();
  store.cleanup();
  fs.rmSync(outside, { recursive: true, force: true });
});

function shell(command: string) {
  return { builder: { backend: "shell" as const, shell: true, command } };
}

describe.runIf(probe.ok)("runAttempt in the bubblewrap sandbox", () => {
  it("hands the worker /tmp/dwm paths only, hides the run store and the evidence, and brings its work in as the attempt branch", async () => {
    // Repository and evidence outside /tmp: the private /tmp would hide them anyway.
    const r = path.join(outside, "repo");
    fs.cpSync(repo.path, r, { recursive: true });
    const p = { ...ports(store), attemptDir: path.join(outside, "evidence", "build", "1"), sandbox };
    const script = [
      'env | grep "^DWM_" | sort > src/env.txt',
      'cat "$DWM_PROMPT_FILE" > src/prompt-seen.md',
      `ls -A ${r}/.dwm > src/store.txt 2>&1 || true`,
      `ls -A ${p.attemptDir} > src/evidence.txt 2>&1 || true`,
      "echo done > report.md",
    ].join("; ");
    const a = await runAttempt(
      request(r, packet(), shell(script), { inputs: [input("in.json", "{}\n")] }),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.sandbox).toBe("bubblewrap");
    const env = git(r, "show", `${a.head_commit}:src/env.txt`);
    expect(env).toContain("DWM_PROMPT_FILE=/tmp/dwm/prompt.md");
    // The checkout lies in the worktree root (here the store's temp folder), never in a run store.
    expect(env).not.toContain(p.attemptDir);
    expect(env).not.toContain(r);
    expect(env).not.toContain(".dwm/");
    expect(git(r, "show", `${a.head_commit}:src/prompt-seen.md`)).toContain("Write src/app.txt");
    expect(git(r, "show", `${a.head_commit}:src/store.txt`)).toBe("");
    expect(git(r, "show", `${a.head_commit}:src/evidence.txt`)).toMatch(/^(ls: .*No such file|)$/);
    expect(git(r, "rev-parse", a.branch ?? "")).toBe(a.head_commit);
    expect(a.checks.map((c) => [c.id, c.passed])).toEqual([["validation-1", true]]);
    expect(a.findings).toEqual([]);
  });

  it("hides DWM's config folder (the operator's key) wherever DWM_CONFIG_DIR puts it", async () => {
    const config = path.join(outside, "dwm-config");
    fs.mkdirSync(config, { recursive: true });
    fs.writeFileSync(path.join(config, "operator.key"), "OPERATOR KEY\n");
    const p = ports(store);
    const script = `cat ${config}/operator.key > src/key.txt 2>/dev/null; ls -A ${config} > src/ls.txt 2>&1; true`;
    const a = await runAttempt(request(repo.path, packet({ outputs: [] }), shell(script)), {
      ...p,
      env: { ...p.env, DWM_CONFIG_DIR: config },
      sandbox,
    });
    expect(a.outcome).toBe("ok");
    expect(git(repo.path, "show", `${a.head_commit}:src/key.txt`)).toBe("");
    expect(git(repo.path, "show", `${a.head_commit}:src/ls.txt`)).toBe("");
  });

  it("a worker cannot move the repository's refs or set its config: nothing changes, nothing to refuse", async () => {
    const before = git(repo.path, "rev-parse", "main");
    const script = [
      `git -C ${repo.path} update-ref refs/heads/main HEAD~0 2>/dev/null`,
      `git -C ${repo.path} config core.hooksPath /x 2>/dev/null`,
      `git -C ${repo.path} update-ref refs/heads/dwm/demo-0123456789ab/integration ${before} 2>/dev/null`,
      "echo x > src/x.txt",
    ].join("; ");
    const a = await runAttempt(request(repo.path, packet({ outputs: [] }), shell(script)), {
      ...ports(store),
      sandbox,
    });
    expect(a.outcome).toBe("ok");
    expect(a.findings).toEqual([]);
    expect(git(repo.path, "rev-parse", "main")).toBe(before);
    expect(fs.readFileSync(path.join(repo.path, ".git", "config"), "utf8")).not.toContain("hooksPath");
    expect(git(repo.path, "branch", "--list", "dwm/demo-0123456789ab/integration")).toBe("");
  });

  it("a read-only worker still writes its packet's declared output; any other change it makes is a finding", async () => {
    const pk = packet({ workers: [worker("reader", {}, { write: false })] });
    const a = await runAttempt(
      request(repo.path, pk, {
        reader: { backend: "shell", shell: true, command: "echo r > report.md; echo x >> README.md" },
      }),
      { ...ports(store), sandbox },
    );
    expect(a.outcome).toBe("ok");
    expect(a.outputs.map((o) => [o.artifact, o.found])).toEqual([["report.md", true]]);
    expect(a.findings.map((f) => [f.code, f.paths])).toEqual([["read-only-violation", ["README.md"]]]);
  });

  it("runs programs from PATH folders in the temp folder (bound read-only over the private /tmp)", async () => {
    const bin = path.join(store.path, "tools", "node_modules", ".bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(
      path.join(store.path, "tools", "node_modules", "tool.sh"),
      "#!/bin/sh\necho tool ran > src/tool.txt\n",
      { mode: 0o755 },
    );
    fs.symlinkSync("../tool.sh", path.join(bin, "mytool"));
    const p = ports(store);
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), { builder: { backend: "shell", argv: ["mytool"] } }),
      {
        ...p,
        env: { ...p.env, PATH: `${bin}:${p.env.PATH}` },
        sandbox,
      },
    );
    expect(a.outcome).toBe("ok");
    expect(git(repo.path, "show", `${a.head_commit}:src/tool.txt`)).toBe("tool ran");
  });

  it("a read-only worker's checkout is read-only; its handoff inputs are read-only", async () => {
    const pk = packet({ outputs: [], workers: [worker("reader", {}, { write: false })] });
    const a = await runAttempt(
      request(
        repo.path,
        pk,
        {
          reader: {
            backend: "shell",
            shell: true,
            command: "cat .dwm-inputs/in.json; echo x > .dwm-inputs/in.json; echo y > src/y.txt; echo end",
          },
        },
        { inputs: [input("in.json", '{"a":1}\n')] },
      ),
      { ...ports(store), sandbox },
    );
    expect(a.outcome).toBe("ok");
    expect(fs.readFileSync(path.join(ports(store).attemptDir, "workers/1-reader/stdout"), "utf8")).toBe(
      '{"a":1}\nend\n',
    );
    expect(a.changed_files).toEqual([]);
    expect(a.head_commit).toBe(a.base_commit);
  });
});

describe("what DWM notices when the sandbox did not hold (run without one)", () => {
  it("a moved ref and a changed config of the repository are a repository-changed finding; DWM's own namespace is left to the run loop", async () => {
    const script = [
      `git -C ${repo.path} update-ref refs/heads/main HEAD^{tree} 2>/dev/null || git -C ${repo.path} update-ref refs/heads/forged HEAD`,
      `git -C ${repo.path} config core.hooksPath /x`,
      `git -C ${repo.path} update-ref refs/heads/dwm/other-run/integration HEAD`,
      "echo x > src/x.txt",
    ].join("; ");
    const a = await runAttempt(request(repo.path, packet({ outputs: [] }), shell(script)), {
      ...ports(store),
      sandbox: noSandbox,
    });
    expect(a.sandbox).toBe("none");
    expect(a.findings).toEqual([
      {
        code: "repository-changed",
        message: "the attempt changed 1 ref(s) of the repository besides its own branch: refs/heads/forged",
        worker_id: null,
        paths: ["refs/heads/forged"],
      },
      {
        code: "repository-changed",
        message: "the attempt changed the repository's git configuration or hooks: config",
        worker_id: null,
        paths: ["config"],
      },
    ]);
  });

  it("skip-worktree on a rewritten check script hides nothing: DWM's own index stages it, the flag is a finding", async () => {
    const pk = packet({
      outputs: [],
      verification: [
        {
          claim_or_output: "checks pass",
          falsifier: "they fail",
          evidence_required: ["sh scripts/check.sh"],
        },
      ],
    });
    const script = [
      "git update-index --skip-worktree scripts/check.sh",
      "printf '#!/bin/sh\\nexit 0\\n' > scripts/check.sh",
      "echo x > src/x.txt",
    ].join(" && ");
    const a = await runAttempt(request(repo.path, pk, shell(script)), {
      ...ports(store),
      sandbox: noSandbox,
    });
    expect(a.outcome).toBe("ok");
    expect(a.changed_files.map((f) => f.path)).toEqual(["scripts/check.sh", "src/x.txt"]);
    expect(a.findings.map((f) => [f.code, f.paths])).toEqual([
      ["repository-changed", ["scripts/check.sh"]],
      ["ownership-violation", ["scripts/check.sh"]],
    ]);
  });

  it("checks run in a clean checkout of the attempt's commit, not in what the worker left", async () => {
    // report.md is ignored: the worker has it, the commit (what will be merged) does not.
    const pk = packet({
      outputs: [
        {
          artifact: "ignored.md",
          format: "markdown",
          required_fields: [],
          validation_command: "test -s ignored.md",
        },
      ],
    });
    const a = await runAttempt(request(repo.path, pk, shell("echo r > ignored.md; echo x > src/x.txt")), {
      ...ports(store),
      sandbox: new FakeSandbox(),
    });
    expect(a.outputs.map((o) => [o.artifact, o.found])).toEqual([["ignored.md", true]]);
    expect(a.checks.map((c) => [c.id, c.exit_code, c.passed])).toEqual([["validation-1", 1, false]]);
  });

  it("every process goes through the sandbox port: each worker and each check, each disposed of", async () => {
    const fake = new FakeSandbox();
    const pk = packet({ workers: [worker("a"), worker("b")] });
    await runAttempt(
      request(repo.path, pk, {
        a: { backend: "shell", argv: ["true"] },
        b: { backend: "shell", shell: true, command: "echo r > report.md" },
      }),
      { ...ports(store), sandbox: fake },
    );
    expect(fake.calls.map((c) => [c.request.argv.join(" "), c.disposed, c.view.network])).toEqual([
      ["true", true, "none"],
      ["sh -c echo r > report.md", true, "none"],
      ["sh -c test -s report.md", true, "none"],
    ]);
    const checkout = fake.calls[0]?.request.cwd ?? "";
    expect(fake.calls[1]?.request.cwd).toBe(checkout);
    expect(fake.calls[2]?.request.cwd).not.toBe(checkout);
    expect(fake.calls[0]?.view.hidden).toEqual(
      expect.arrayContaining([path.join(repo.path, ".dwm"), ports(store).attemptDir]),
    );
  });

  it("output past the binding's cap stops the worker there, with a finding", async () => {
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: {
          backend: "shell",
          shell: true,
          command: "head -c 5000 /dev/zero | tr '\\0' x; echo e >&2",
          max_output_bytes: 1000,
        },
      }),
      { ...ports(store), sandbox: noSandbox },
    );
    expect(fs.statSync(path.join(ports(store).attemptDir, "workers/1-builder/stdout")).size).toBe(1000);
    expect(a.outcome).toBe("task-failed");
    expect(a.findings).toEqual([
      {
        code: "output-truncated",
        message:
          "worker builder wrote more than 1000 bytes to 1 output(s): stopped at the cap (its process group killed); each was cut there",
        worker_id: "builder",
        paths: ["workers/1-builder/stdout"],
      },
    ]);
  });

  it("no secret value reaches attempt.json through a file name, a finding or an evidence file's name", async () => {
    const token = "tok-secret-98765";
    const p = { ...ports(store, { MY_SERVICE_TOKEN: token }), sandbox: noSandbox };
    const a = await runAttempt(
      request(repo.path, packet({ outputs: [] }), {
        builder: {
          backend: "command",
          argv: [
            "sh",
            "-c",
            'echo x > "src/$MY_SERVICE_TOKEN.txt"; echo y > "{output_dir}/$MY_SERVICE_TOKEN.md"',
          ],
          pass_env: ["MY_SERVICE_TOKEN"],
        },
      }),
      p,
    );
    const written = fs.readFileSync(path.join(p.attemptDir, "attempt.json"), "utf8");
    expect(written).not.toContain(token);
    expect(a.changed_files.map((f) => f.path)).toEqual(["src/[REDACTED:MY_SERVICE_TOKEN].txt"]);
    expect(a.files.map((f) => f.path)).toContain("workers/1-builder/out/[REDACTED:MY_SERVICE_TOKEN].md");
    expect(a.findings.map((f) => f.code)).toContain("secret-in-work");
    expect(a.notes).toContain(
      "an evidence file's name held a secret value: renamed to workers/1-builder/out/[REDACTED:MY_SERVICE_TOKEN].md",
    );
  });
});
