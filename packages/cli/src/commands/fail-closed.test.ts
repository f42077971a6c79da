// Issue 22 (fail closed), each scenario of "Tried … on main" as a user meets it: a command that
// changes a run refuses a damaged store (exit 3) and changes nothing; no history is rebuilt over
// evidence; crash leftovers are recoverable, and `dwm run` recovers them and journals it; a lock
// being written is held; file-system failures a user can meet are coded.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dwmInProcess, journalEvents } from "../test-support/in-process.js";
import { trustOperator } from "../test-support/operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** examples/repo-audit committed into a fresh repository under `parent` (default: a temp dir). */
function auditRepo(parent?: string, until: (() => void)[] = cleanups): TempDir {
  const repo = parent
    ? (() => {
        const p = fs.mkdtempSync(path.join(parent, "repo-"));
        git(p, "init", "-q");
        git(p, "config", "user.email", "t@example.com");
        git(p, "config", "user.name", "t");
        return { path: p, cleanup: () => fs.rmSync(p, { recursive: true, force: true }) };
      })()
    : makeGitRepo({ ".gitignore": ".dwm/\n" });
  until.push(repo.cleanup);
  fs.writeFileSync(path.join(repo.path, ".gitignore"), ".dwm/\n");
  fs.cpSync(path.join(EXAMPLES, "repo-audit"), repo.path, { recursive: true });
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "audit");
  trustOperator(repo.path);
  return repo;
}

let wt: TempDir;
beforeAll(() => {
  wt = makeTempDir("dwm-fc-wt-");
});
afterAll(() => wt.cleanup());

const dwm = (cwd: string, argv: string[], env: Record<string, string> = {}) =>
  dwmInProcess(cwd, argv, wt.path, env);

/** repo-audit run to its human gate: the repository, the run id and its folder. */
async function atGate(parent?: string, until: (() => void)[] = cleanups) {
  const repo = auditRepo(parent, until);
  const r = await dwm(repo.path, ["run", "workflow.plan.json", "--json"]);
  expect(r.code, r.stderr).toBe(4);
  const runId = JSON.parse(r.stdout).run_id as string;
  return { repo: repo.path, runId, dir: path.join(repo.path, ".dwm", "runs", runId) };
}

const journalOf = (dir: string) => fs.readFileSync(path.join(dir, "journal.jsonl"));
const events = journalEvents;

/** A pid no process has now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout);
}

describe("a damaged store: every command that changes the run refuses (exit 3) and changes nothing", () => {
  let run: Awaited<ReturnType<typeof atGate>>;
  const shared: (() => void)[] = [];
  beforeAll(async () => {
    run = await atGate(undefined, shared);
  }, 240_000);
  afterAll(() => {
    for (const c of shared) c();
  });

  const DAMAGE: [string, (dir: string) => void][] = [
    [
      "a deleted review and diff",
      (dir) => {
        fs.rmSync(path.join(dir, "reviews", "inventory", "1.json"));
        fs.rmSync(path.join(dir, "attempts", "inventory", "1", "diff.patch"));
      },
    ],
    ["a zeroed scorecard", (dir) => fs.writeFileSync(path.join(dir, "scorecard.json"), "")],
    [
      "a zeroed attempt file",
      (dir) => fs.writeFileSync(path.join(dir, "attempts", "scan_src", "1", "attempt.json"), ""),
    ],
    [
      "a zeroed handoff",
      (dir) => {
        const files = fs.readdirSync(path.join(dir, "handoffs"), { recursive: true, withFileTypes: true });
        const h = files.find((f) => f.isFile());
        if (!h) throw new Error("no handoff file");
        fs.writeFileSync(path.join(h.parentPath, h.name), "");
      },
    ],
    [
      "a tampered prompt",
      (dir) => fs.appendFileSync(path.join(dir, "prompts", "report.md"), "\nignore that\n"),
    ],
  ];

  it.each(DAMAGE)(
    "%s: approve, reject, run, exec and land refuse with ERR_CLI_STORE_DAMAGED",
    async (_, damage) => {
      const saved = path.join(wt.path, `saved-${Date.now()}`);
      fs.cpSync(run.dir, saved, { recursive: true });
      try {
        damage(run.dir);
        const before = journalOf(run.dir);
        const approvals = fs.readdirSync(path.join(run.dir, "approvals"), { recursive: true });
        for (const argv of [
          ["approve", run.runId, "human-gate"],
          ["reject", run.runId, "human-gate", "--reason", "no"],
          ["run", run.runId],
          ["exec", run.runId, "report", "--backend", "dry-run"],
          ["land", run.runId],
        ]) {
          const r = await dwm(run.repo, argv);
          expect([argv[0], r.code], r.stderr).toEqual([argv[0], 3]);
          expect(r.stderr).toContain("ERR_CLI_STORE_DAMAGED");
        }
        expect(journalOf(run.dir).equals(before)).toBe(true);
        expect(fs.readdirSync(path.join(run.dir, "approvals"), { recursive: true })).toEqual(approvals);
        expect((await dwm(run.repo, ["status", run.runId])).code).toBe(3);
      } finally {
        fs.rmSync(run.dir, { recursive: true });
        fs.cpSync(saved, run.dir, { recursive: true });
      }
    },
  );

  it("a zeroed approval (the gate approved, the run not resumed yet): run and exec refuse with ERR_CLI_STORE_DAMAGED", async () => {
    const own = await atGate();
    expect((await dwm(own.repo, ["approve", own.runId, "human-gate"])).code).toBe(0);
    const approvals = path.join(own.dir, "approvals", "human-gate");
    const [file] = fs.readdirSync(approvals).filter((f) => /^[1-9][0-9]*\.json$/.test(f));
    if (file === undefined) throw new Error("no approval file");
    fs.writeFileSync(path.join(approvals, file), "");
    const before = journalOf(own.dir);
    for (const argv of [
      ["run", own.runId],
      ["exec", own.runId, "report", "--backend", "dry-run"],
    ]) {
      const r = await dwm(own.repo, argv);
      expect([argv[0], r.code], r.stderr).toEqual([argv[0], 3]);
      expect(r.stderr).toContain("ERR_CLI_STORE_DAMAGED");
      expect(r.stderr).toContain(`approvals/human-gate/${file}`);
    }
    expect(journalOf(own.dir).equals(before)).toBe(true);
    expect((await dwm(own.repo, ["status", own.runId])).code).toBe(3);
  }, 240_000);

  it("compile over a tampered prompt refuses (exit 3) and rewrites nothing", async () => {
    const prompt = path.join(run.dir, "prompts", "report.md");
    const orig = fs.readFileSync(prompt);
    fs.appendFileSync(prompt, "\nignore that\n");
    try {
      const r = await dwm(run.repo, ["compile", "workflow.plan.json"]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain("ERR_CLI_STORE_DAMAGED");
      expect(fs.readFileSync(prompt, "utf8").endsWith("ignore that\n")).toBe(true);
      expect((await dwm(run.repo, ["verify", run.runId])).code).toBe(3);
    } finally {
      fs.writeFileSync(prompt, orig);
    }
    expect((await dwm(run.repo, ["compile", "workflow.plan.json"])).code).toBe(0);
  });

  it("the last two complete journal lines dropped: verify fails, run refuses", async () => {
    const orig = journalOf(run.dir);
    const lines = orig.toString("utf8").split("\n").slice(0, -1);
    fs.writeFileSync(path.join(run.dir, "journal.jsonl"), `${lines.slice(0, -2).join("\n")}\n`);
    try {
      const v = await dwm(run.repo, ["verify", run.runId, "--json"]);
      expect(v.code).toBe(3);
      expect(JSON.parse(v.stdout).problems.map((p: { code: string }) => p.code)).toContain(
        "ERR_VERIFY_JOURNAL_TRUNCATED",
      );
      expect((await dwm(run.repo, ["run", run.runId])).code).toBe(3);
    } finally {
      fs.writeFileSync(path.join(run.dir, "journal.jsonl"), orig);
    }
  });

  it("a halved journal: run refuses instead of cutting the torn line and re-running work", async () => {
    const orig = journalOf(run.dir);
    const half = orig.subarray(0, Math.floor(orig.length / 2));
    fs.writeFileSync(path.join(run.dir, "journal.jsonl"), half);
    try {
      const r = await dwm(run.repo, ["run", run.runId]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("ERR_VERIFY_JOURNAL_TRUNCATED");
      expect(journalOf(run.dir).equals(half)).toBe(true);
    } finally {
      fs.writeFileSync(path.join(run.dir, "journal.jsonl"), orig);
    }
  });

  it("a deleted journal: no new history over the evidence, no attempt evidence deleted", async () => {
    const orig = journalOf(run.dir);
    const attempt = path.join(run.dir, "attempts", "inventory", "1", "attempt.json");
    const evidence = fs.readFileSync(attempt);
    fs.rmSync(path.join(run.dir, "journal.jsonl"));
    try {
      for (const argv of [
        ["run", run.runId],
        ["run", run.runId],
        ["compile", "workflow.plan.json"],
      ]) {
        const r = await dwm(run.repo, argv);
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain("ERR_VERIFY_JOURNAL_MISSING");
      }
      expect(fs.existsSync(path.join(run.dir, "journal.jsonl"))).toBe(false);
      expect(fs.readFileSync(attempt).equals(evidence)).toBe(true);
    } finally {
      fs.writeFileSync(path.join(run.dir, "journal.jsonl"), orig);
    }
  });

  it("a missing run.json is a damaged run (exit 3), not 'no runs'", async () => {
    const file = path.join(run.dir, "run.json");
    const orig = fs.readFileSync(file);
    fs.rmSync(file);
    try {
      for (const argv of [["status"], ["status", run.runId], ["approve", run.runId, "human-gate"]]) {
        const r = await dwm(run.repo, argv);
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain("ERR_CLI_RUN_DAMAGED");
      }
    } finally {
      fs.writeFileSync(file, orig);
    }
    expect((await dwm(run.repo, ["verify", run.runId])).code).toBe(0);
  });

  it("an empty lock file (a contender between create and write) is held: run does not take over", async () => {
    const lock = path.join(run.dir, "lock");
    fs.writeFileSync(lock, "");
    try {
      const before = journalOf(run.dir);
      const r = await dwm(run.repo, ["run", run.runId]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("ERR_RUN_LOCKED");
      expect(fs.readFileSync(lock, "utf8")).toBe("");
      expect(journalOf(run.dir).equals(before)).toBe(true);
    } finally {
      fs.rmSync(lock);
    }
  });
});

describe("crash leftovers are recoverable, and dwm run recovers them and journals it", () => {
  it("a temp file of a killed approve: status and next say `dwm run`; approve, run complete and verify passes", async () => {
    const run = await atGate();
    const tmp = `approvals/human-gate/.1.json.${deadPid()}.0a1b2c3d.tmp`;
    fs.mkdirSync(path.join(run.dir, "approvals", "human-gate"), { recursive: true });
    fs.writeFileSync(path.join(run.dir, tmp), '{"kind":"appr');
    const st = await dwm(run.repo, ["status", run.runId, "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).next_action).toMatchObject({
      kind: "resume",
      command: `dwm run ${run.runId}`,
    });
    expect(JSON.parse(st.stdout).next_action.summary).toContain("temporary file");
    // verify says what `dwm run` does about it: not the torn-line text every repairable problem got.
    const v = await dwm(run.repo, ["verify", run.runId]);
    expect(v.stdout).toContain(
      `repairable: \`dwm run ${run.runId}\` recovers it (temporary file(s) of atomic writes) and journals what it did`,
    );
    expect(v.stdout).not.toContain("truncates");
    const next = JSON.parse((await dwm(run.repo, ["next", run.runId, "--json"])).stdout);
    expect(next).toMatchObject({ action: "run", argv: ["dwm", "run", run.runId] });
    expect((await dwm(run.repo, ["approve", run.runId, "human-gate"])).code).toBe(0);
    const done = await dwm(run.repo, ["run", run.runId]);
    expect(done.code, done.stderr).toBe(0);
    expect(fs.existsSync(path.join(run.dir, tmp))).toBe(false);
    const rec = events(run.dir).filter((e) => e.type === "store.recovered");
    expect(rec.map((e) => e.data)).toEqual([
      { leftovers: [expect.objectContaining({ kind: "temp-file", path: tmp })] },
    ]);
    expect((await dwm(run.repo, ["verify", run.runId])).code).toBe(0);
  }, 240_000);

  it("a stale git lock of the run's integration branch, its runner dead: recoverable; run removes it and completes", async () => {
    const run = await atGate();
    const ref = `refs/heads/dwm/${run.runId}/integration`;
    const lockFile = `${path.join(run.repo, ".git", ...ref.split("/"))}.lock`;
    fs.writeFileSync(lockFile, `${"0".repeat(40)}\n`);
    // The runner that held it is dead: its lease names a pid no process has.
    fs.writeFileSync(
      path.join(run.dir, "lock"),
      `${JSON.stringify({ pid: deadPid(), host: (await import("node:os")).hostname(), token: "t", acquired_at: "2026-01-01T00:00:00.000Z", expires_at: "2026-01-01T00:00:30.000Z", purpose: "run" })}\n`,
    );
    const st = await dwm(run.repo, ["status", run.runId, "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).next_action.summary).toContain("git lock");
    expect((await dwm(run.repo, ["approve", run.runId, "human-gate"])).code).toBe(0);
    const done = await dwm(run.repo, ["run", run.runId]);
    expect(done.code, done.stderr).toBe(0);
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(events(run.dir).some((e) => e.type === "store.recovered")).toBe(true);
    expect((await dwm(run.repo, ["verify", run.runId])).code).toBe(0);
  }, 240_000);
});

describe("a forged approval the runner journaled as refused is evidence on record, not damage", () => {
  it("status, next, land and attest go on past it, as the check before a change does; verify names it as refused", async () => {
    const run = await atGate();
    // A live runner holds the lock: approve only writes approvals/human-gate/1.json for it.
    const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });
    cleanups.push(() => sleeper.kill());
    const lock = path.join(run.dir, "lock");
    const lease = { pid: sleeper.pid, host: os.hostname(), token: "0123456789abcdef" };
    fs.writeFileSync(
      lock,
      `${JSON.stringify({ ...lease, acquired_at: "2026-01-01T00:00:00.000Z", expires_at: "2100-01-01T00:00:00.000Z", purpose: "run" })}\n`,
    );
    const waiting = await dwm(run.repo, ["approve", run.runId, "human-gate", "--json"]);
    expect([waiting.code, JSON.parse(waiting.stdout).journaled]).toEqual([0, false]);
    fs.rmSync(lock);
    sleeper.kill();
    // Forge it: one character of its signature changed.
    const forged = "approvals/human-gate/1.json";
    const file = path.join(run.dir, forged);
    const bundle = JSON.parse(fs.readFileSync(file, "utf8"));
    const sig: string = bundle.dsseEnvelope.signatures[0].sig;
    bundle.dsseEnvelope.signatures[0].sig = `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
    fs.writeFileSync(file, JSON.stringify(bundle));
    const refusing = await dwm(run.repo, ["run", run.runId]);
    expect(refusing.code, refusing.stderr).toBe(4);
    expect(
      events(run.dir)
        .filter((e) => e.type === "approval.refused")
        .map((e) => e.data.path),
    ).toEqual([forged]);
    const status = await dwm(run.repo, ["status", run.runId, "--json"]);
    expect(status.code, status.stdout).toBe(0);
    expect(JSON.parse((await dwm(run.repo, ["next", run.runId, "--json"])).stdout)).toMatchObject({
      action: "approve-gate",
    });
    expect((await dwm(run.repo, ["approve", run.runId, "human-gate"])).code).toBe(0);
    const done = await dwm(run.repo, ["run", run.runId]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(`$ dwm land ${run.runId}`);
    expect(JSON.parse((await dwm(run.repo, ["next", run.runId, "--json"])).stdout)).toMatchObject({
      action: "land",
    });
    expect((await dwm(run.repo, ["status", run.runId])).code).toBe(0);
    const attest = await dwm(run.repo, ["attest", run.runId, "--out", path.join(wt.path, "bundle.jsonl")]);
    expect(attest.code, attest.stderr).toBe(0);
    const land = await dwm(run.repo, ["land", run.runId]);
    expect(land.code, land.stderr).toBe(0);
    const verify = await dwm(run.repo, ["verify", run.runId, "--json"]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).signatures).toContainEqual(
      expect.objectContaining({ file: forged, kind: "refused-approval", status: "refused", signer: null }),
    );
    expect((await dwm(run.repo, ["verify", run.runId])).stdout).toMatch(
      new RegExp(`warning: ${forged} is a forged approval .*refused`),
    );
  }, 240_000);
});

describe("errors a user can meet on the file system have a code and a hint, never ERR_CLI_INTERNAL", () => {
  it("a directory where dwm.workers.json should be", async () => {
    const repo = auditRepo();
    fs.rmSync(path.join(repo.path, "dwm.workers.json"));
    fs.mkdirSync(path.join(repo.path, "dwm.workers.json"));
    const r = await dwm(repo.path, ["run", "workflow.plan.json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("ERR_CLI_INTERNAL");
    expect(r.stderr).toMatch(/error ERR_[A-Z_]+: .*dwm\.workers\.json/);
    expect(r.stderr).toContain("hint: ");
  }, 120_000);

  it(".dwm being a file", async () => {
    const repo = auditRepo();
    fs.writeFileSync(path.join(repo.path, ".dwm"), "not a folder\n");
    const r = await dwm(repo.path, ["compile", "workflow.plan.json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("ERR_CLI_INTERNAL");
    expect(r.stderr).toMatch(/error ERR_[A-Z_]+: /);
    expect(r.stderr).toContain("hint: ");
  }, 120_000);

  it("a file where a folder is to be made (EEXIST): ERR_FS_WRONG_KIND for init, keys init and report --out", async () => {
    const repo = auditRepo();
    fs.writeFileSync(path.join(repo.path, ".dwm"), "not a folder\n");
    const init = await dwm(repo.path, ["init"]);
    expect([init.code, init.stderr.split("\n")[0]]).toEqual([
      1,
      expect.stringMatching(/^error ERR_FS_WRONG_KIND: mkdir .*\.dwm/),
    ]);
    expect(init.stderr).toContain("hint: ");
    const notAFolder = path.join(wt.path, `config-file-${process.pid}`);
    fs.writeFileSync(notAFolder, "not a folder\n");
    const keys = await dwm(repo.path, ["keys", "init"], { DWM_CONFIG_DIR: notAFolder });
    expect([keys.code, keys.stderr.split("\n")[0]]).toEqual([
      1,
      expect.stringMatching(/^error ERR_FS_WRONG_KIND: /),
    ]);
    fs.rmSync(notAFolder);
    fs.rmSync(path.join(repo.path, ".dwm"));
    const run = await atGate();
    fs.writeFileSync(path.join(run.repo, "a.txt"), "a file\n");
    const report = await dwm(run.repo, ["report", run.runId, "--out", "a.txt/x.html"]);
    expect([report.code, report.stderr.split("\n")[0]]).toEqual([
      1,
      expect.stringMatching(/^error ERR_FS_WRONG_KIND: .*a\.txt/),
    ]);
  }, 240_000);

  it("state.json cannot be saved after the approval is journaled: approve succeeds with a warning", async () => {
    const run = await atGate();
    fs.rmSync(path.join(run.dir, "state.json"));
    fs.mkdirSync(path.join(run.dir, "state.json", "x"), { recursive: true });
    const r = await dwm(run.repo, ["approve", run.runId, "human-gate"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("warning: state.json (a cache of the journal) was not saved");
    expect(events(run.dir).some((e) => e.type === "gate.approved")).toBe(true);
  }, 240_000);

  describe.skipIf(process.getuid?.() !== 0)("as root: an immutable journal, a full disk", () => {
    it("an immutable journal (chattr +i): ERR_FS_PERMISSION, nothing journaled", async () => {
      const run = await atGate();
      const journal = path.join(run.dir, "journal.jsonl");
      const before = fs.readFileSync(journal);
      if (spawnSync("chattr", ["+i", journal]).status !== 0) return; // a file system without attributes
      try {
        const r = await dwm(run.repo, ["approve", run.runId, "human-gate"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("ERR_FS_PERMISSION");
        expect(r.stderr).toContain("journal.jsonl");
        expect(fs.readFileSync(journal).equals(before)).toBe(true);
      } finally {
        spawnSync("chattr", ["-i", journal]);
      }
    }, 240_000);

    it("the packet's attestation cannot be written after the approval is journaled: approve succeeds with a warning, run attests it", async () => {
      const run = await atGate();
      const packets = path.join(run.dir, "attestations", "packets");
      if (spawnSync("chattr", ["+i", packets]).status !== 0) return; // a file system without attributes
      let r: Awaited<ReturnType<typeof dwm>>;
      try {
        r = await dwm(run.repo, ["approve", run.runId, "human-gate"]);
      } finally {
        spawnSync("chattr", ["-i", packets]);
      }
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        "warning: the decision is journaled, but the packets it completed were not attested",
      );
      const evs = events(run.dir);
      expect(evs.some((e) => e.type === "gate.approved" && e.data.gate_id === "human-gate")).toBe(true);
      expect(evs.some((e) => e.type === "packet.completed" && e.data.packet_id === "human_gate")).toBe(true);
      const done = await dwm(run.repo, ["run", run.runId]);
      expect(done.code, done.stderr).toBe(0);
      const attested = events(run.dir).filter(
        (e) => e.type === "attestation.recorded" && e.data.packet_id === "human_gate",
      );
      expect(attested).toHaveLength(1);
      expect((await dwm(run.repo, ["verify", run.runId])).code).toBe(0);
    }, 240_000);

    it("a full disk (a small tmpfs): ERR_FS_NO_SPACE, nothing half-journaled; once space is freed approve works", async () => {
      const mnt = fs.mkdtempSync(path.join(wt.path, "mnt-"));
      if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]).status !== 0) return;
      try {
        const run = await atGate(mnt);
        const filler = path.join(mnt, "filler");
        spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"], { stdio: "ignore" });
        const before = journalOf(run.dir);
        const r = await dwm(run.repo, ["approve", run.runId, "human-gate"]);
        expect(r.stderr).not.toContain("ERR_CLI_INTERNAL");
        if (r.code === 0) {
          // The approval got journaled before the disk filled: success, warnings for what came after.
          expect(events(run.dir).some((e) => e.type === "gate.approved")).toBe(true);
        } else {
          expect(r.code).toBe(1);
          expect(r.stderr).toContain("ERR_FS_NO_SPACE");
          expect(journalOf(run.dir).subarray(0, before.length).equals(before)).toBe(true);
          // Issue 22 met an approve that journaled the approval and still exited 1.
          const approved = events(run.dir).filter(
            (e) => e.type === "gate.approved" && e.data.gate_id === "human-gate",
          );
          expect(approved, r.stderr).toEqual([]);
        }
        fs.rmSync(filler);
        const again = await dwm(run.repo, ["run", run.runId]);
        expect([0, 4], again.stderr).toContain(again.code);
      } finally {
        spawnSync("umount", ["-l", mnt]);
      }
    }, 240_000);
  });
});
