// Attacks: a hostile worker inside `dwm run` (the built CLI, the OS sandbox on, as a user runs it)
// tries each attack of issue 20 — approve its own gate (dwm approve, an approval file, a setsid
// child that writes one once the gate opens), move the integration branch, rewrite main, set
// core.hooksPath, hide a rewritten script with skip-worktree, read a secret from the runner's
// /proc/<pid>/environ, leave a process behind, write the journal or another packet's evidence,
// read ~/.ssh or the operator's agent login (~/.codex/auth.json), reach a loopback port with the network off, kill the runner, fork-bomb — through
// the shell backend and through the command backend (any agent CLI). Every attack is checked
// by its effect (the journal, the repository, the run store, the branches, the host), never by
// what the worker says. None may succeed. Controls run some attacks with --no-sandbox (all but
// the fork bomb in full mode): there they must succeed, or the attack proves nothing.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { bubblewrapSandbox } from "@dwm/core";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { ATTACK_ENV, ATTACK_SCRIPT, ATTACKS, type Attack } from "./support/attack-worker.js";
import { BIN, baseEnv, dwmChild, filesUnder, journal, type Outcome, runDir, runIds } from "./support/dwm.js";
import { exampleRepo } from "./support/repos.js";
import { FULL, modeOf, report, SEED } from "./support/suite.js";

const probe = await bubblewrapSandbox().probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);

type Backend = "shell" | "command";
interface Trial {
  attack: Attack;
  backend: Backend;
  sandbox: boolean;
  succeeded: boolean;
  how: string;
  run_exit: number | null;
  worker_said: string[];
}
const trials: Trial[] = [];
const startedAt = Date.now();
// The fork bomb asks for more processes than the sandbox's default limit (1024) allows.
const FORK_MAX = 1500;
const SANDBOX_PROCESS_LIMIT = 1024;

/** Attacks run through the command backend too: in quick mode a few, in full mode all. */
const COMMAND_ATTACKS: readonly Attack[] = FULL ? ATTACKS : ["write-approval", "read-ssh", "proc-environ"];
/** Attacks also run without the sandbox, where they must succeed. */
const CONTROLS: readonly Attack[] = FULL
  ? ATTACKS.filter((a) => a !== "fork-bomb")
  : ["write-approval", "rewrite-main", "read-ssh", "loopback", "setsid-survivor"];

/** Processes on the host whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(marker)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function gitOut(repo: string, ...args: string[]): string {
  try {
    return execFileSync("git", ["-C", repo, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch {
    return "";
  }
}

/** Everything the repository's history and refs hold, as text (to look for a stolen value). */
function everythingInGit(repo: string): string {
  return (
    gitOut(repo, "log", "--all", "-p", "--binary", "--name-only", "--format=%H %s") + gitOut(repo, "show-ref")
  );
}

function storeContains(dir: string, needle: string): boolean {
  return filesUnder(dir).some((f) => fs.readFileSync(path.join(dir, f)).includes(needle));
}

interface World {
  repo: string;
  dir: string;
  runId: string;
  nonce: string;
  secret: string;
  sshKey: string;
  agentLogin: string;
  connections: number;
  first: Outcome;
  second: Outcome | null;
  verify: Outcome;
  before: { main: string; config: string; hooks: string; flags: string };
}

function repoFacts(repo: string) {
  return {
    main: gitOut(repo, "rev-parse", "main").trim(),
    config: fs.readFileSync(path.join(repo, ".git", "config"), "utf8"),
    hooks: fs
      .readdirSync(path.join(repo, ".git", "hooks"))
      .sort()
      .join(","),
    flags: gitOut(repo, "ls-files", "-v")
      .split("\n")
      .filter((l) => /^[a-zS] /.test(l))
      .join("\n"),
  };
}

/** What the attack achieved, judged from its effects only; "" when nothing. */
function effectOf(attack: Attack, w: World): string {
  const evs = journal(w.dir);
  const approvals = path.join(w.dir, "approvals", "human-gate");
  const approvalFiles = fs.existsSync(approvals) ? filesUnder(approvals) : [];
  // The risk gates are approved by the example's policy file; the human gate only by the operator.
  const approved = evs.some((e) => e.type === "gate.approved" && e.data.gate_id === "human-gate");
  const now = repoFacts(w.repo);
  switch (attack) {
    case "dwm-approve":
    case "write-approval":
    case "setsid-approval":
      if (approved) return "the gate was approved";
      return approvalFiles.length > 0
        ? `wrote into the run store: approvals/human-gate/${approvalFiles.join(", ")}`
        : "";
    case "move-integration": {
      const ref = `dwm/${w.runId}/integration`;
      const merged = evs.filter((e) => e.type === "integration.merged").map((e) => String(e.data.commit));
      const lost = merged.filter((c) => !isAncestor(w.repo, c, ref));
      // Without the sandbox the integrator notices and stops the run (exit 3); the loss happened all the same.
      const stopped = /ERR_DISPATCH_INTEGRATION_REWOUND/.test(w.first.stderr + (w.second?.stderr ?? ""));
      if (lost.length === 0) return "";
      return `merged work lost from ${ref}: ${lost.join(", ")}${stopped ? " (the runner stopped: ERR_DISPATCH_INTEGRATION_REWOUND)" : " (unnoticed)"}`;
    }
    case "rewrite-main":
      return now.main !== w.before.main ? `main moved to ${now.main}` : "";
    case "hooks-path":
      if (now.config !== w.before.config) return "the repository's config changed";
      return now.hooks !== w.before.hooks ? "a hook was added" : "";
    case "skip-worktree": {
      if (now.flags !== w.before.flags) return `the repository's index got flags: ${now.flags}`;
      const done = evs.some((e) => e.type === "packet.completed" && e.data.packet_id === "inventory");
      const cheated = gitOut(
        w.repo,
        "show",
        `refs/dwm/${w.runId}/attempts/inventory/1:scripts/inventory.mjs`,
      ).includes(w.nonce);
      return done && cheated ? "the rewritten script passed review" : "";
    }
    case "proc-environ":
      if (storeContains(w.dir, w.secret)) return "the secret is in the run store";
      return everythingInGit(w.repo).includes(w.secret) ? "the secret is in the repository" : "";
    case "setsid-survivor": {
      const alive = processesWith(`attack-later-${w.nonce}`);
      return alive.length > 0 ? `survivors: ${alive.join(", ")}` : "";
    }
    case "write-journal":
    case "other-evidence":
      if (storeContains(w.dir, w.nonce)) return "the run store holds the worker's bytes";
      return w.verify.code !== 0 ? `dwm verify exit ${w.verify.code}` : "";
    case "read-ssh":
      if (storeContains(w.dir, w.sshKey)) return "the key is in the run store";
      return everythingInGit(w.repo).includes(w.sshKey) ? "the key is in the repository" : "";
    case "read-agent-login":
      if (storeContains(w.dir, w.agentLogin)) return "the login is in the run store";
      return everythingInGit(w.repo).includes(w.agentLogin) ? "the login is in the repository" : "";
    case "loopback":
      return w.connections > 0 ? `${w.connections} connection(s) reached 127.0.0.1` : "";
    case "kill-runner":
      return w.first.signal !== null || (w.first.code !== 4 && w.first.code !== 0)
        ? `dwm run ended with ${w.first.signal ?? `exit ${w.first.code}`}`
        : "";
    case "fork-bomb": {
      const said = workerSaid(w).join("\n");
      const started = Number(/started (\d+) processes/.exec(said)?.[1] ?? "0");
      if (started >= SANDBOX_PROCESS_LIMIT) return `${started} processes started`;
      // The runner must survive it: an outcome of its own (gate, failed packet), no crash.
      const survived = w.first.signal === null && [0, 1, 4].includes(w.first.code ?? -1);
      return survived && !w.first.stderr.includes("ERR_CLI_INTERNAL")
        ? ""
        : `dwm run ended with ${w.first.signal ?? `exit ${w.first.code}`}`;
    }
  }
}

function isAncestor(repo: string, a: string, b: string): boolean {
  try {
    execFileSync("git", ["-C", repo, "merge-base", "--is-ancestor", a, b], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The worker's own account of its attack (stdout of the inventory attempts), for the report only. */
function workerSaid(w: World): string[] {
  const dir = path.join(w.dir, "attempts", "inventory");
  if (!fs.existsSync(dir)) return [];
  return filesUnder(dir)
    .filter((f) => f.endsWith("/stdout"))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n"))
    .filter((l) => l.startsWith("attack ") || l.startsWith("stolen"));
}

async function trial(attack: Attack, backend: Backend, sandbox: boolean): Promise<Trial> {
  const tmp = makeTempDir("dwm-rel-attacks-");
  const nonce = crypto.randomBytes(8).toString("hex");
  const secret = `runner-secret-${crypto.randomBytes(6).toString("hex")}`;
  const sshKey = `ssh-private-key-${nonce}`;
  const home = path.join(tmp.path, "home");
  fs.mkdirSync(path.join(home, ".ssh"), { recursive: true });
  fs.writeFileSync(path.join(home, ".ssh", "id_ed25519"), `${sshKey}\n`);
  const agentLogin = `sk-agent-login-${nonce}`;
  fs.mkdirSync(path.join(home, ".codex"), { recursive: true });
  fs.writeFileSync(path.join(home, ".codex", "auth.json"), `{"OPENAI_API_KEY":"${agentLogin}"}\n`);
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const made = exampleRepo("repo-audit", {
    passEnv: ATTACK_ENV,
    edit: (dir) => {
      fs.writeFileSync(path.join(dir, "attack.mjs"), ATTACK_SCRIPT);
      const file = path.join(dir, "dwm.workers.json");
      const b = JSON.parse(fs.readFileSync(file, "utf8"));
      const argv = ["node", "attack.mjs", attack, "--", "node", "scripts/inventory.mjs"];
      b.bindings["inventory-worker"] = { backend, argv, pass_env: ATTACK_ENV };
      fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
    },
  });
  // The repository where users keep theirs, outside the temp folder: the sandbox's private /tmp
  // would otherwise hide it whole, and the attacks would never meet the read-only .git and the
  // hidden run store.
  const outside = fs.mkdtempSync(path.join(os.homedir(), ".dwm-rel-attacks-"));
  fs.cpSync(made.path, path.join(outside, "repo"), { recursive: true });
  made.cleanup();
  const repo = {
    path: path.join(outside, "repo"),
    cleanup: () => fs.rmSync(outside, { recursive: true, force: true }),
  };
  try {
    const before = repoFacts(repo.path);
    const env = baseEnv({
      HOME: home,
      TMPDIR: tmp.path,
      ATTACK_REPO: repo.path,
      ATTACK_BIN: BIN,
      ATTACK_NONCE: nonce,
      ATTACK_PORT: String(port),
      ATTACK_FORK_MAX: String(FORK_MAX),
      // In the runner's environment only: no binding passes it to a worker.
      ATTACK_SECRET: secret,
    });
    const flag = sandbox ? [] : ["--no-sandbox"];
    const first = await dwmChild(repo.path, ["run", "workflow.plan.json", ...flag], env);
    const [runId = ""] = runIds(repo.path);
    // A detached child acts within a quarter second of the gate opening, if it is still alive.
    await new Promise((r) => setTimeout(r, 1500));
    const second = runId === "" ? null : await dwmChild(repo.path, ["run", runId, ...flag], env);
    const verify = await dwmChild(repo.path, ["verify", runId, "--json"], env);
    const w: World = {
      repo: repo.path,
      dir: runDir(repo.path, runId),
      runId,
      nonce,
      secret,
      sshKey,
      agentLogin,
      connections,
      first,
      second,
      verify,
      before,
    };
    const how = effectOf(attack, w);
    const t: Trial = {
      attack,
      backend,
      sandbox,
      succeeded: how !== "",
      how: how || "no effect",
      run_exit: first.code,
      worker_said: workerSaid(w),
    };
    trials.push(t);
    return t;
  } finally {
    // Whatever a control left running goes (the test's own processes, found by the nonce).
    for (const pid of processesWith(nonce)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await new Promise((r) => server.close(() => r(undefined)));
    repo.cleanup();
    tmp.cleanup();
  }
}

const CASES: [Attack, Backend][] = [
  ...ATTACKS.map((a): [Attack, Backend] => [a, "shell"]),
  ...COMMAND_ATTACKS.map((a): [Attack, Backend] => [a, "command"]),
];

describe.runIf(probe.ok && fs.existsSync(BIN) && os.platform() === "linux")(
  `attacks (${CASES.length} in the sandbox, ${CONTROLS.length} controls, seed ${SEED})`,
  () => {
    afterAll(() => {
      const sandboxed = trials.filter((t) => t.sandbox);
      const controls = trials.filter((t) => !t.sandbox);
      report(
        {
          suite: "attacks",
          mode: modeOf("attacks"),
          seed: SEED,
          counts: {
            attacks: sandboxed.length,
            refused: sandboxed.filter((t) => !t.succeeded).length,
            succeeded: sandboxed.filter((t) => t.succeeded).length,
            controls: controls.length,
            controls_succeeded: controls.filter((t) => t.succeeded).length,
          },
          detail: { trials },
        },
        startedAt,
      );
    });

    it.each(CASES)(
      "%s (%s worker) has no effect in the sandbox",
      async (attack, backend) => {
        const t = await trial(attack, backend, true);
        expect(t, JSON.stringify(t)).toMatchObject({ succeeded: false });
      },
      180_000,
    );

    it.each(CONTROLS)(
      "control: %s works without the sandbox (--no-sandbox)",
      async (attack) => {
        const t = await trial(attack, "shell", false);
        expect(t, JSON.stringify(t)).toMatchObject({ succeeded: true });
      },
      180_000,
    );
  },
);
