import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isInside, type SandboxView } from "@dwm/core";
import { WORKER_IO_DIR, workerNetwork, workerView } from "../worker-view.js";
import type { WorkerCheckout } from "./checkout.js";
import type { Job } from "./jobs.js";

/** What every view of one attempt shares: the repository's objects, the inputs, what to hide, the home folder. */
export interface ViewBase {
  objectDirs: readonly string[];
  inputsDir: string | null;
  /** Run stores and other paths no worker or check may see. */
  hidden: readonly string[];
  home: string | undefined;
  /** PATH folders in the temp folder, for the checks (see pathBinds). */
  programs: readonly string[];
}

/** The paths no worker of this attempt may see: every run store DWM knows of, and this attempt's evidence. */
export function hiddenPaths(repo: string, attemptDir: string, extra: readonly string[]): string[] {
  return [path.join(repo, ".dwm"), attemptDir, ...extra];
}

/**
 * Folders of the worker's PATH that lie in the host's temp folder, which the sandbox's private
 * `/tmp` would hide: bound read-only so its programs stay reachable. A `node_modules/.bin` entry
 * brings its whole `node_modules` (its links point into it).
 */
export function pathBinds(pathVar: string | undefined): string[] {
  const tmp = fs.realpathSync(os.tmpdir());
  const out: string[] = [];
  for (const entry of (pathVar ?? "").split(path.delimiter)) {
    let dir: string;
    try {
      dir = fs.realpathSync(entry);
    } catch {
      continue;
    }
    if (!isInside(tmp, dir) && !isInside("/tmp", dir)) continue;
    const parts = dir.split(path.sep);
    const nm = parts.lastIndexOf("node_modules");
    const bind = nm > 0 ? parts.slice(0, nm + 1).join(path.sep) : dir;
    if (!out.some((o) => isInside(o, bind))) out.push(bind);
  }
  return out;
}

type SourceEnv = Readonly<Record<string, string | undefined>>;

const inHome = (env: SourceEnv, rel: string) =>
  env.HOME === undefined ? undefined : path.join(env.HOME, rel);
/** Codex's home: `CODEX_HOME`, else `~/.codex`. */
const codexHomeOf = (env: SourceEnv) => env.CODEX_HOME ?? inHome(env, ".codex");
/** Claude Code's config folder: `CLAUDE_CONFIG_DIR`, else `~/.claude`. */
const claudeDirOf = (env: SourceEnv) => env.CLAUDE_CONFIG_DIR ?? inHome(env, ".claude");
/** Claude Code's global config: inside CLAUDE_CONFIG_DIR when that is set (checked on 2.1.197), else `~/.claude.json`. */
const claudeGlobalOf = (env: SourceEnv) =>
  env.CLAUDE_CONFIG_DIR === undefined
    ? inHome(env, ".claude.json")
    : path.join(env.CLAUDE_CONFIG_DIR, ".claude.json");

/**
 * The operator's own state of the agent CLIs: Codex's home, Claude Code's config folder, its
 * global config `~/.claude.json`, and `~/.config/anthropic`. They hold login tokens and settings
 * that start programs (hooks, MCP servers, `notify`) in the operator's next session, so no
 * worker or check sees them: an agent worker gets a private home instead (`makeAgentHome`).
 */
export function operatorAgentState(env: SourceEnv): string[] {
  const paths = [
    codexHomeOf(env),
    claudeDirOf(env),
    inHome(env, ".claude.json"),
    inHome(env, ".config/anthropic"),
  ];
  return paths.filter((p): p is string => p !== undefined);
}

// What each CLI reads from its home to run (checked with strace on codex 0.169.0 and Claude Code
// 2.1.197): its settings and its login. Left out on purpose: instructions (AGENTS.md,
// CLAUDE.md), hooks.json, .env, rules, skills, agents, plugins, sessions and history.
const SEED = {
  codex: { config: ["config.toml"], login: ["auth.json"] },
  claude: { config: ["settings.json"], login: [".credentials.json"] },
} as const;
/** Keys of Claude Code's global config a worker gets: who is logged in, not the operator's projects or MCP servers. */
const CLAUDE_GLOBAL_KEYS = {
  config: ["userID", "hasCompletedOnboarding"],
  login: ["oauthAccount", "primaryApiKey"],
};

function copyIfFile(from: string, to: string): void {
  if (!fs.statSync(from, { throwIfNoEntry: false })?.isFile()) return;
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o600);
}

/** Claude Code's global config reduced to `keys`, written to `to` (nothing when it cannot be read). */
function copyClaudeGlobal(from: string, to: string, keys: readonly string[]): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(from, "utf8"));
  } catch {
    return;
  }
  if (typeof parsed !== "object" || parsed === null) return;
  const kept = Object.fromEntries(Object.entries(parsed).filter(([k]) => keys.includes(k)));
  fs.writeFileSync(to, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
}

/**
 * A private home for one agent worker at `dir` (in the attempt's own folder, removed with it;
 * nothing is copied back), seeded from the operator's with its CLI's settings, and with its login
 * unless the binding names its own endpoint (`base_url`: the key then comes from `api_key_env`,
 * and the operator's vendor login is not handed to another endpoint). Returns it with the
 * variable that points the CLI at it; null for a backend that has none.
 */
export function makeAgentHome(job: Job, env: SourceEnv, dir: string): AgentHome | null {
  const backend = job.binding.backend;
  if (backend !== "codex" && backend !== "claude") return null;
  const login = job.binding.base_url === undefined;
  const pick = <T>(s: { config: readonly T[]; login: readonly T[] }) => [
    ...s.config,
    ...(login ? s.login : []),
  ];
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const own = backend === "codex" ? codexHomeOf(env) : claudeDirOf(env);
  if (own !== undefined)
    for (const n of pick(SEED[backend])) copyIfFile(path.join(own, n), path.join(dir, n));
  if (backend === "claude") {
    const global = claudeGlobalOf(env);
    if (global !== undefined)
      copyClaudeGlobal(global, path.join(dir, ".claude.json"), pick(CLAUDE_GLOBAL_KEYS));
  }
  const variable = backend === "codex" ? "CODEX_HOME" : "CLAUDE_CONFIG_DIR";
  return { dir, env: { [variable]: dir }, secrets: seededSecrets(dir) };
}

/** A private agent home: where it is, the variable that points its CLI at it, and the secrets seeded into it. */
export interface AgentHome {
  dir: string;
  env: Record<string, string>;
  /** Token and key values of its JSON files, by a name saying where each is (for the redactor). */
  secrets: Record<string, string>;
}

const SECRET_KEY = /token|key|secret|password/i;

/**
 * The values under token- or key-like names in the JSON files of an agent home (`auth.json`,
 * `.credentials.json`, `primaryApiKey`, a token in `settings.json`'s `env`): DWM did not hand
 * them over by variable, so the redactor learns them here, and a worker that prints or commits
 * one has it redacted from the evidence (a `secret-in-work` finding when it is in the work).
 */
function seededSecrets(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (v: unknown, where: string, key: string) => {
    if (typeof v === "string" && SECRET_KEY.test(key)) out[where] = v;
    else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) visit(x, `${where}.${k}`, k);
  };
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".json"))) {
    try {
      visit(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")), `agent home ${f}`, "");
    } catch {
      // not JSON: nothing to learn
    }
  }
  return out;
}

/** The model endpoint an agent CLI talks to: its binding's base_url, else the one its environment names. */
function modelEndpoint(job: Job, env: Readonly<Record<string, string>>): string | undefined {
  if (job.binding.base_url !== undefined) return job.binding.base_url;
  if (job.binding.backend === "claude") return env.ANTHROPIC_BASE_URL;
  if (job.binding.backend === "codex") return env.OPENAI_BASE_URL;
  return undefined;
}

/**
 * One worker's view: its checkout (read-write when it may write or its packet declares outputs;
 * a packet's own command may),
 * its hand-over folder at /tmp/dwm, the inputs and the repository's objects read-only, run
 * stores and credentials hidden, its private agent home (`makeAgentHome`) read-write, the network
 * its permissions and backend call for. `note` says when an agent's endpoint forced the host's network.
 */
export function jobView(
  base: ViewBase,
  checkout: WorkerCheckout,
  job: Job,
  hostIoDir: string,
  env: Readonly<Record<string, string>>,
  declaresOutputs: boolean,
  agentHome: string | null = null,
): { view: SandboxView; note: string | null } {
  const net = workerNetwork(job.binding.backend, job.permissions?.network ?? false, modelEndpoint(job, env));
  const view = workerView({
    programs: pathBinds(env.PATH),
    checkout: checkout.dir,
    // A read-only worker still writes its packet's declared outputs (files in the checkout, which
    // a bind cannot single out before they exist): its checkout is writable then, and any other
    // change it makes is a read-only-violation finding (enforce.ts).
    checkoutWritable: (job.permissions?.write ?? true) || declaresOutputs,
    objectDirs: base.objectDirs,
    ioDir: hostIoDir,
    inputsDir: base.inputsDir,
    stores: base.hidden,
    home: base.home,
    agentHomes: agentHome === null ? [] : [agentHome],
    network: net.network,
  });
  return { view, note: net.note === null ? null : `${job.workerId}: ${net.note}` };
}

/** The view of DWM's checks: a clean checkout of the attempt's commit, writable; no network. */
export function checkView(base: ViewBase, checkout: WorkerCheckout, hostIoDir: string): SandboxView {
  return workerView({
    programs: base.programs,
    checkout: checkout.dir,
    checkoutWritable: true,
    objectDirs: base.objectDirs,
    ioDir: hostIoDir,
    inputsDir: base.inputsDir,
    stores: base.hidden,
    home: base.home,
    network: "none",
  });
}

export { WORKER_IO_DIR };
