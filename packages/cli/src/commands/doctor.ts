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

export async function run(_args: unknown, ctx: CommandContext): Promise<CommandResult> {
  const checks: DoctorCheck[] = [];
  const node = process.versions.node;
  checks.push(
    atLeast(node, MIN_NODE)
      ? { id: "node", status: "ok", message: `Node ${node}`, version: node }
      : {
          id: "node",
          status: "fail",
          message: `Node ${node} is older than ${MIN_NODE.join(".")}`,
          hint: "Install Node 20.19 or later.",
          version: node,
        },
  );

  const g = await probe(ctx, ["git", "--version"]);
  const gitVersion = /(\d+\.\d+(\.\d+)?)/.exec(g.out)?.[1];
  if (!g.ok || !gitVersion) {
    checks.push({
      id: "git",
      status: "fail",
      message: "git is not on PATH",
      hint: "Install git 2.38 or later.",
    });
  } else if (!atLeast(gitVersion, MIN_GIT)) {
    checks.push({
      id: "git",
      status: "fail",
      message: `git ${gitVersion} is older than ${MIN_GIT.join(".")} (worktrees and merge-tree --write-tree)`,
      hint: "Install git 2.38 or later.",
      version: gitVersion,
    });
  } else {
    checks.push({ id: "git", status: "ok", message: `git ${gitVersion}`, version: gitVersion });
  }

  if (g.ok) {
    const repo = await probe(ctx, ["git", "rev-parse", "--show-toplevel"]);
    checks.push(
      repo.ok
        ? { id: "repository", status: "ok", message: `in git repository ${repo.out}` }
        : {
            id: "repository",
            status: "warn",
            message: "the current directory is not inside a git repository",
            hint: "Run DWM inside the repository the workflow works on (git init to start one).",
          },
    );
  }

  // The agent CLIs: installed version, and whether it is the one the contract tests cover
  // (COVERED_AGENT_CLI_VERSIONS, the versions pinned in tools/agent-clis).
  for (const [id, pkg] of [
    ["codex", "@openai/codex"],
    ["claude", "@anthropic-ai/claude-code"],
  ] as const) {
    const covered = COVERED_AGENT_CLI_VERSIONS[id];
    const r = await probe(ctx, [id, "--version"]);
    const version = /(\d+\.\d+\.\d+)/.exec(r.out)?.[1];
    if (!r.ok) {
      checks.push({
        id,
        status: "warn",
        message: `${id} is not on PATH; the ${id} backend is unavailable`,
        hint: `npm i -g ${pkg}@${covered}`,
        covered_version: covered,
      });
    } else if (version === covered) {
      checks.push({
        id,
        status: "ok",
        message: `${id} ${version} (the version DWM's contract tests cover)`,
        version,
        covered_version: covered,
        covered: true,
      });
    } else {
      checks.push({
        id,
        status: "warn",
        message: `${id} ${version ?? r.out}: DWM's contract tests cover ${covered}; the ${id} backend may still work`,
        hint: `npm i -g ${pkg}@${covered} for the tested version`,
        ...(version ? { version } : {}),
        covered_version: covered,
        covered: false,
      });
    }
  }

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
  // A warning until every attempt runs in the sandbox; then a machine without one must pass --no-sandbox.
  return {
    id: "sandbox",
    status: "warn",
    message: `no worker sandbox: ${p.reason ?? "bubblewrap failed"}`,
    hint: "Install bubblewrap (apt-get install bubblewrap) on Linux with user namespaces enabled; docs/security.md says what a worker can do without it.",
  };
}
