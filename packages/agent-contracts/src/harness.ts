// Where the pinned real CLIs are, which versions they are, and a clean environment to run them in.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { COVERED_AGENT_CLI_VERSIONS } from "@dwm/executor";
import { leftOut, missingPartMessage } from "@dwm/test-utils";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The install of the pinned CLIs (`npm ci --prefix tools/agent-clis`, run by scripts/ci-setup.sh). */
export const AGENT_CLIS_DIR = path.join(REPO_ROOT, "tools", "agent-clis");
export const AGENT_CLIS_BIN = path.join(AGENT_CLIS_DIR, "node_modules", ".bin");

export type CliName = keyof typeof COVERED_AGENT_CLI_VERSIONS;

export interface RealCli {
  name: CliName;
  bin: string;
  /** The installed package's version. */
  version: string;
  package: string;
}

const PACKAGES: Record<CliName, string> = {
  codex: "@openai/codex",
  claude: "@anthropic-ai/claude-code",
};

/** The installed real CLI, or why it is not usable. */
export function findRealCli(name: CliName): RealCli | { missing: string } {
  const bin = path.join(AGENT_CLIS_BIN, name);
  const pkgJson = path.join(AGENT_CLIS_DIR, "node_modules", ...PACKAGES[name].split("/"), "package.json");
  if (!fs.existsSync(bin) || !fs.existsSync(pkgJson)) {
    return { missing: `${PACKAGES[name]} is not installed in tools/agent-clis` };
  }
  const version = (JSON.parse(fs.readFileSync(pkgJson, "utf8")) as { version: string }).version;
  const covered = COVERED_AGENT_CLI_VERSIONS[name];
  if (version !== covered) {
    return {
      missing: `tools/agent-clis has ${PACKAGES[name]} ${version}, the contract covers ${covered}`,
    };
  }
  return { name, bin, version, package: PACKAGES[name] };
}

/**
 * The real CLI for a contract test file. Missing or at another version, it fails the file with
 * how to install it; the file is skipped only when the user left the real CLIs out
 * (DWM_TEST_SKIP=agent-clis, see the README).
 */
export function realCliOrSkip(name: CliName): { cli: RealCli | null; skipReason: string | null } {
  if (leftOut("agent-clis")) return { cli: null, skipReason: "left out with DWM_TEST_SKIP=agent-clis" };
  const found = findRealCli(name);
  if ("missing" in found) throw new Error(missingPartMessage("agent-clis", found.missing));
  return { cli: found, skipReason: null };
}

/**
 * The environment DWM itself runs with in a contract test: a PATH with the pinned CLIs and node,
 * a private HOME (and the CLIs' own config homes below it) so nothing of this machine's
 * configuration or login leaks in, a private TMPDIR in it, plus `extra`.
 */
export function dwmEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const codexHome = path.join(home, ".codex");
  const claudeHome = path.join(home, ".claude");
  // A TMPDIR inside the home, not above it: the Codex CLI refuses to make its helper aliases
  // (codex-linux-sandbox, which it runs inside bubblewrap when bwrap is installed) in a home under
  // the temporary directory, and then every sandboxed command fails with "bwrap: execvp
  // codex-linux-sandbox: No such file or directory".
  const tmp = path.join(home, ".tmp");
  for (const d of [codexHome, claudeHome, tmp]) fs.mkdirSync(d, { recursive: true });
  const nodeDir = path.dirname(process.execPath);
  return {
    PATH: [AGENT_CLIS_BIN, nodeDir, "/usr/local/bin", "/usr/bin", "/bin"].join(path.delimiter),
    HOME: home,
    LANG: "C.UTF-8",
    CODEX_HOME: codexHome,
    CLAUDE_CONFIG_DIR: claudeHome,
    TMPDIR: tmp,
    ...extra,
  };
}

/** Pids of live processes whose environment holds `NAME=value` (zombies count as dead). */
export function processesWithEnv(name: string, value: string): number[] {
  const entry = Buffer.from(`${name}=${value}\0`);
  const inner = Buffer.from(`\0${name}=${value}\0`);
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      // This container's PID 1 does not reap: an exited child stays a zombie, which is not running.
      if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`);
      if (env.includes(inner) || env.subarray(0, entry.length).equals(entry)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}
