// Side by side with Claude Code's own dynamic workflows: the same N no-op agent tasks run
//   (a) by Claude Code's `Workflow` tool, without and with `isolation: "worktree"`, in one
//       `claude -p` process (../shared/notes/claude-code-workflows.md says how to drive it offline);
//   (b) by `dwm run` with the `claude` backend (one Claude Code process per packet, each in its own
//       git worktree; DWM has no mode without worktrees), at concurrency 8;
// and, as the floor of (b), a bare Node pool of 8 spawning the same `claude -p` invocations (argv
// and prompt read from DWM's own attempt records), each in a worktree made before timing, so
// (b − floor) / N is DWM's own per-packet cost with the agent CLI's start-up excluded. Everything talks to the scripted
// model endpoint (@dwm/test-utils startModelServer) on 127.0.0.1, served from this process, in
// the same run. The real Claude Code is the pinned one in tools/agent-clis (scripts/ci-setup.sh);
// without it the scenario is skipped and says so.
import fs from "node:fs";
import path from "node:path";
import {
  dwmBin,
  ladder,
  load,
  median,
  pool,
  repoRoot,
  resultsDir,
  runAsync,
  treeRssSampler,
  writeResult,
} from "../lib.mjs";
import { CONCURRENCY, makeRepo, noopPlan } from "../plans.mjs";

const AGENT_CLIS = path.join(repoRoot, "tools", "agent-clis");
const CLAUDE_PKG = "@anthropic-ai/claude-code";
const KEY_ENV = "DWM_BENCH_GATEWAY_KEY";
const KEY = "sk-bench-0000";
const MODEL = "claude-sonnet-4-5";
const TASK = "bench-noop-task";
const TIMEOUT_MS = 30 * 60_000;

/** The pinned Claude Code, or why it cannot be used. */
function findClaude() {
  const bin = path.join(AGENT_CLIS, "node_modules", ".bin", "claude");
  const pkg = path.join(AGENT_CLIS, "node_modules", ...CLAUDE_PKG.split("/"), "package.json");
  const pinned = JSON.parse(fs.readFileSync(path.join(AGENT_CLIS, "package.json"), "utf8")).dependencies[
    CLAUDE_PKG
  ];
  if (!fs.existsSync(bin) || !fs.existsSync(pkg)) {
    return { missing: `${CLAUDE_PKG} is not installed in tools/agent-clis (run scripts/ci-setup.sh)` };
  }
  const version = JSON.parse(fs.readFileSync(pkg, "utf8")).version;
  if (version !== pinned)
    return { missing: `tools/agent-clis has ${CLAUDE_PKG} ${version}, pinned ${pinned}` };
  return { bin, version };
}

/** A private HOME (and Claude Code config dir) per measurement, so no login or history leaks in. */
function cleanEnv(home, extra) {
  const claudeHome = path.join(home, ".claude");
  fs.mkdirSync(claudeHome, { recursive: true });
  return {
    PATH: [
      path.dirname(findClaude().bin),
      path.dirname(process.execPath),
      "/usr/local/bin",
      "/usr/bin",
      "/bin",
    ].join(path.delimiter),
    HOME: home,
    LANG: "C.UTF-8",
    CLAUDE_CONFIG_DIR: claudeHome,
    // Nothing beyond the scripted endpoint (as in the agent contract tests).
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...extra,
  };
}

/** The Workflow script: N agents in one `parallel` call, optionally each in its own worktree. */
function workflowScript(n, isolation) {
  const opts = isolation ? `{ isolation: "worktree" }` : "{}";
  return [
    `export const meta = { name: "bench", description: "${n} no-op agents", phases: [{ title: "Run" }] };`,
    `phase("Run");`,
    `const out = await parallel(Array.from({ length: ${n} }, (_, i) => () => agent("${TASK} " + i + ": reply done", ${opts})));`,
    'log("finished " + out.length);',
  ].join("\n");
}

/** (a) one `claude -p` whose model starts a Workflow of n agents; wall, peak tree RSS, agents served. */
async function viaWorkflow(server, repo, home, n, isolation) {
  server.script(
    { name: "agent", when: TASK, dialect: "messages", turns: [{ kind: "text", text: "done" }] },
    {
      name: "main",
      dialect: "messages",
      turns: [
        { kind: "tool", name: "Workflow", input: { script: workflowScript(n, isolation) } },
        // The tool result (workflow launched), then the workflow's completion notification.
        ...Array.from({ length: 4 }, () => ({ kind: "text", text: "done" })),
      ],
    },
  );
  const sampler = treeRssSampler();
  const r = await runAsync(
    [
      findClaude().bin,
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      MODEL,
      "--allowedTools",
      "Workflow",
    ],
    {
      cwd: repo,
      env: cleanEnv(home, { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: KEY }),
      input: "Run the bench workflow.",
      sampler,
      timeoutMs: TIMEOUT_MS,
    },
  );
  const peak = sampler.stop();
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  const done = lines.find((l) => l.type === "system" && l.subtype === "task_notification");
  const agents = server.conversation("messages").filter((q) => q.script === "agent").length;
  if (r.code !== 0 || done?.status !== "completed" || server.problems.length > 0) {
    throw new Error(
      `Workflow of ${n}${isolation ? " (worktrees)" : ""}: exit ${r.code}, notification ${done?.status}, ${agents} agent requests, problems ${server.problems.slice(0, 3).join("; ")}; stderr ${r.stderr.slice(-500)}`,
    );
  }
  if (agents < n) {
    // The workflow completed without running every agent: reported (agents_served), and its
    // output kept for whoever wants to know why.
    const kept = path.join(resultsDir(), `claude-workflows-${n}${isolation ? "-worktree" : ""}.stream.jsonl`);
    fs.writeFileSync(kept, r.stdout);
    console.log(
      `Workflow of ${n}${isolation ? " (worktrees)" : ""}: ${agents} of ${n} agents reached the model; output in ${kept}`,
    );
  }
  return { ms: r.ms, peakMiB: peak, agents };
}

/** (b) `dwm run` of a plan with n claude packets (+ one shell seed packet) at concurrency 8. */
async function viaDwm(server, home, n) {
  const { dir, head } = makeRepo("dwm-bench-claude-");
  const plan = noopPlan(n + 1, { verify: "test -f file-0.txt" });
  fs.writeFileSync(path.join(dir, "workflow.plan.json"), `${JSON.stringify(plan, null, 2)}\n`);
  const bindings = {
    kind: "worker-bindings",
    schema_version: "1",
    bindings: {
      seed: { backend: "shell", shell: true, command: `echo '{"seed":1}' > seed.json` },
      noop: {
        backend: "claude",
        model: MODEL,
        base_url: server.url,
        api_key_env: KEY_ENV,
        env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
        timeout_ms: 600_000,
      },
    },
  };
  fs.writeFileSync(path.join(dir, "dwm.workers.json"), `${JSON.stringify(bindings, null, 2)}\n`);
  // dwm run signs its approvals: the operator's key in this HOME's config, trusted by the repository.
  const { trustTestOperator, writeTestOperatorConfig } = await load("test-utils");
  writeTestOperatorConfig(path.join(home, ".config", "dwm"));
  trustTestOperator(dir);
  server.script({ name: "packet", dialect: "messages", turns: [{ kind: "text", text: "done" }] });
  const sampler = treeRssSampler();
  const r = await runAsync(
    [
      process.execPath,
      dwmBin,
      "run",
      "workflow.plan.json",
      "--concurrency",
      String(CONCURRENCY),
      "--approve",
      "write",
      "--json",
    ],
    {
      cwd: dir,
      env: cleanEnv(home, { [KEY_ENV]: KEY, TMPDIR: process.env.TMPDIR ?? "/tmp" }),
      sampler,
      timeoutMs: TIMEOUT_MS,
    },
  );
  const peak = sampler.stop();
  let out = null;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    // reported below
  }
  const agents = server.conversation("messages").length;
  if (r.code !== 0 || out?.status !== "complete" || agents < n || server.problems.length > 0) {
    throw new Error(
      `dwm run of ${n} claude packets: exit ${r.code}, ${out?.status}: ${out?.detail}, ${agents} model requests, problems ${server.problems.slice(0, 3).join("; ")}; stderr ${r.stderr.slice(-500)}`,
    );
  }
  // What DWM ran for one packet: the floor runs the same argv with the same prompt.
  const runDir = path.join(dir, ".dwm", "runs", out.run_id);
  const attemptDir = path.join(runDir, "attempts", "p00002", "1");
  const attempt = JSON.parse(fs.readFileSync(path.join(attemptDir, "attempt.json"), "utf8"));
  const inv = attempt.invocations[0];
  const prompt = fs.readFileSync(path.join(attemptDir, inv.prompt), "utf8");
  return { ms: r.ms, peakMiB: peak, agents, dir, head, argv: inv.argv, prompt };
}

/**
 * The floor of (b): a bare pool of 8 spawning the same Claude Code invocation n times, each in a
 * worktree of its own made before the clock starts (Claude Code reads its git state at start-up,
 * and concurrent sessions in one directory share its project folder), removed after it stops.
 */
async function floorPool(server, home, n, argv, prompt, repo, head) {
  server.script({ name: "packet", dialect: "messages", turns: [{ kind: "text", text: "done" }] });
  const env = cleanEnv(home, { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: KEY });
  const cmd = argv.map((a) => (a === "claude" ? findClaude().bin : a));
  const wts = Array.from({ length: n }, (_, i) => path.join(repo, ".dwm", "floor", `wt-${i}`));
  for (const wt of wts) {
    const r = await runAsync(["git", "worktree", "add", "--quiet", "--detach", wt, head], { cwd: repo, env });
    if (r.code !== 0) throw new Error(`floor: git worktree add: ${r.stderr}`);
  }
  const sampler = treeRssSampler();
  const t0 = performance.now();
  await pool(n, CONCURRENCY, async (i) => {
    const r = await runAsync(cmd, { cwd: wts[i], env, input: prompt, sampler, timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`floor claude -p exited ${r.code}: ${r.stderr.slice(-300)}`);
  });
  const ms = performance.now() - t0;
  const peak = sampler.stop();
  const agents = server.conversation("messages").length;
  if (agents < n) throw new Error(`floor: ${agents} model requests for ${n} invocations`);
  return { ms, peakMiB: peak, agents };
}

export async function run({ quick, large, ...override }) {
  const claude = findClaude();
  if ("missing" in claude) {
    writeResult("claude-workflows", { skipped: claude.missing, rows: [] });
    return [];
  }
  const { startModelServer } = await load("test-utils");
  const { makeTempDir } = await load("test-utils");
  const server = await startModelServer();
  const tmp = makeTempDir("dwm-bench-claude-home-");
  // [N, runs]: one run where a size takes minutes.
  const sizes = ladder(quick ? [[2, 1]] : [[20, 3], [200, 1], ...(large ? [[1_000, 1]] : [])], override);
  const rows = [];
  let homes = 0;
  const home = () => path.join(tmp.path, `h${++homes}`);
  try {
    for (const [n, runs] of sizes) {
      const m = { plain: [], worktree: [], dwm: [], floor: [] };
      for (let r = 0; r < runs; r++) {
        const wfRepo = makeRepo("dwm-bench-wf-");
        try {
          m.plain.push(await viaWorkflow(server, wfRepo.dir, home(), n, false));
          m.worktree.push(await viaWorkflow(server, wfRepo.dir, home(), n, true));
        } finally {
          fs.rmSync(wfRepo.dir, { recursive: true, force: true });
        }
        const d = await viaDwm(server, home(), n);
        try {
          m.dwm.push(d);
          m.floor.push(await floorPool(server, home(), n, d.argv, d.prompt, d.dir, d.head));
        } finally {
          fs.rmSync(d.dir, { recursive: true, force: true });
        }
      }
      const floorMs = median(m.floor.map((x) => x.ms));
      const dwmMs = median(m.dwm.map((x) => x.ms));
      const row = (how, xs, extra = {}) => {
        const ms = median(xs.map((x) => x.ms));
        const mib = median(xs.map((x) => x.peakMiB));
        return {
          agents: n,
          runs,
          how,
          wall_ms: ms.toFixed(0),
          ratio: (ms / floorMs).toFixed(2),
          ms_per_agent: (ms / n).toFixed(1),
          peak_rss_mib: mib.toFixed(0),
          mib_per_agent: (mib / n).toFixed(2),
          agents_served: Math.min(...xs.map((x) => x.agents ?? n)),
          ...extra,
        };
      };
      rows.push(
        row("bare pool of 8 × claude -p (floor)", m.floor),
        row("claude Workflow, no isolation", m.plain),
        row("claude Workflow, isolation: worktree", m.worktree),
        row("dwm run --backend claude (worktrees)", m.dwm, {
          dwm_own_ms_per_packet: ((dwmMs - floorMs) / n).toFixed(1),
        }),
      );
    }
  } finally {
    await server.close();
    tmp.cleanup();
  }
  writeResult("claude-workflows", {
    claude_code: claude.version,
    concurrency: CONCURRENCY,
    rows,
    note: "ratio = wall time / the floor's (a bare pool of 8 spawning the same claude -p invocations DWM made, each in a worktree made before timing); peak_rss = summed RSS of the process tree, sampled every 100 ms (pages shared between processes count once per process); dwm_own_ms_per_packet = (dwm run − floor) / N: DWM's own cost per packet (compile, worktrees, evidence, review, journal, integration) with Claude Code's start-up excluded; dwm run also runs one shell seed packet the plan needs; Workflow runs its agents inside one Claude Code process, at most min(16, cores − 2) at once by its own description",
  });
  return rows;
}
