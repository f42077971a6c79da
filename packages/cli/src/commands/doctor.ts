import { bubblewrapSandbox, nodeProcessRunner } from "@dwm/core";
import { COVERED_AGENT_CLI_VERSIONS } from "@dwm/executor";
import type { DoctorCheck, DoctorReport } from "@dwm/schemas";
import type { CommandContext, CommandResult } from "../command.js";
import { dwmVersion } from "../version.js";

const MIN_NODE = [20, 19] as const;
// `git worktree add` is older, but `merge-tree --write-tree` (merging parallel work) needs 2.38.
const MIN_GIT = [2, 38] as const;

function atLeast(version: string, min: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
  return a > min[0] || (a === min[0] && b >= min[1]);
}

async function probe(ctx: CommandContext, argv: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await nodeProcessRunner.run({
    argv,
    cwd: ctx.cwd,
    env: Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined)),
    timeoutMs: 15_000,
  });
  return { ok: r.exitCode === 0 && r.spawnError === null, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The Node.js check: ok from 20.19 on. */
export function nodeCheck(node: string): DoctorCheck {
  return atLeast(node, MIN_NODE)
    ? { id: "node", status: "ok", message: `Node ${node}`, version: node }
    : {
        id: "node",
        status: "fail",
        message: `Node ${node} is older than ${MIN_NODE.join(".")}`,
        hint: "Install Node 20.19 or later.",
        version: node,
      };
}

/** The git check from `git --version`: missing, too old for merge-tree --write-tree, or ok. */
export function gitCheck(probed: { ok: boolean; out: string }): DoctorCheck {
  const gitVersion = /(\d+\.\d+(\.\d+)?)/.exec(probed.out)?.[1];
  if (!probed.ok || !gitVersion) {
    return { id: "git", status: "fail", message: "git is not on PATH", hint: "Install git 2.38 or later." };
  }
  if (!atLeast(gitVersion, MIN_GIT)) {
    return {
      id: "git",
      status: "fail",
      message: `git ${gitVersion} is older than ${MIN_GIT.join(".")} (worktrees and merge-tree --write-tree)`,
      hint: "Install git 2.38 or later.",
      version: gitVersion,
    };
  }
  return { id: "git", status: "ok", message: `git ${gitVersion}`, version: gitVersion };
}

/** The repository check: a warning outside a git repository (DWM needs one to work on). */
function repositoryCheck(probed: { ok: boolean; out: string }): DoctorCheck {
  return probed.ok
    ? { id: "repository", status: "ok", message: `in git repository ${probed.out}` }
    : {
        id: "repository",
        status: "warn",
        message: "the current directory is not inside a git repository",
        hint: "Run DWM inside the repository the workflow works on (git init to start one).",
      };
}

/** The agent CLIs DWM drives, with their npm packages. */
const AGENT_CLIS = [
  ["codex", "@openai/codex"],
  ["claude", "@anthropic-ai/claude-code"],
] as const;

/**
 * An agent CLI's check from `<cli> --version`: a warning when it is missing or is not the
 * version the contract tests cover (COVERED_AGENT_CLI_VERSIONS, pinned in tools/agent-clis).
 */
export function agentCheck(
  id: (typeof AGENT_CLIS)[number][0],
  pkg: string,
  probed: { ok: boolean; out: string },
): DoctorCheck {
  const covered = COVERED_AGENT_CLI_VERSIONS[id];
  const version = /(\d+\.\d+\.\d+)/.exec(probed.out)?.[1];
  if (!probed.ok) {
    return {
      id,
      status: "warn",
      message: `${id} is not on PATH; the ${id} backend is unavailable`,
      hint: `npm i -g ${pkg}@${covered}`,
      covered_version: covered,
    };
  }
  if (version === covered) {
    return {
      id,
      status: "ok",
      message: `${id} ${version} (the version DWM's contract tests cover)`,
      version,
      covered_version: covered,
      covered: true,
    };
  }
  return {
    id,
    status: "warn",
    message: `${id} ${version ?? probed.out}: DWM's contract tests cover ${covered}; the ${id} backend may still work`,
    hint: `npm i -g ${pkg}@${covered} for the tested version`,
    ...(version ? { version } : {}),
    covered_version: covered,
    covered: false,
  };
}

/** `dwm doctor`: Node, git, the repository, the agent CLIs and the worker sandbox; exit 1 when a required check fails. */
export async function run(_args: unknown, ctx: CommandContext): Promise<CommandResult> {
  const checks: DoctorCheck[] = [nodeCheck(process.versions.node)];
  const g = await probe(ctx, ["git", "--version"]);
  checks.push(gitCheck(g));
  if (g.ok) checks.push(repositoryCheck(await probe(ctx, ["git", "rev-parse", "--show-toplevel"])));
  for (const [id, pkg] of AGENT_CLIS) checks.push(agentCheck(id, pkg, await probe(ctx, [id, "--version"])));
  checks.push(await sandboxCheck(ctx.env.PATH));

  const report: DoctorReport = {
    kind: "doctor-report",
    schema_version: "1",
    ok: checks.every((c) => c.status !== "fail"),
    dwm_version: dwmVersion(),
    checks,
  };
  const mark = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;
  const text = [
    `dwm ${report.dwm_version} doctor`,
    ...checks.map(
      (c) =>
        `  ${mark[c.status]}  ${c.id.padEnd(11)} ${c.message}${c.hint ? `\n              hint: ${c.hint}` : ""}`,
    ),
    report.ok ? "All required checks passed." : "Some required checks failed.",
  ].join("\n");
  return { exitCode: report.ok ? 0 : 1, output: report, text };
}

/** Whether workers can be isolated here: bubblewrap runs a process in a view once. */
async function sandboxCheck(pathVar: string | undefined): Promise<DoctorCheck> {
  const p = await bubblewrapSandbox({ path: pathVar }).probe();
  if (p.ok)
    return {
      id: "sandbox",
      status: "ok",
      message: `bubblewrap ${p.version ?? "(version unknown)"} isolates workers`,
      ...(p.version ? { version: p.version } : {}),
    };
  // Required: without it `dwm run`/`dwm exec` refuse to start workers unless given --no-sandbox.
  return {
    id: "sandbox",
    status: "fail",
    message: `no worker sandbox: ${p.reason ?? "bubblewrap failed"}`,
    hint: "Install bubblewrap (apt-get install bubblewrap) on Linux with user namespaces enabled. Until then dwm run and dwm exec refuse to start workers unless given --no-sandbox (workers then run as you: docs/security.md says what they can do).",
  };
}
