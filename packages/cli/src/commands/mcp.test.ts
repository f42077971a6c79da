// `dwm mcp` driven by the MCP SDK's own client over stdio (the built bin, as an agent starts it):
// every tool, bad arguments, resources, and a run started and followed to its gate. The client
// checks every structured result against the tool's output schema.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRepo, BIN, EXAMPLES } from "../test-support/built-cli.js";
import { operatorEnv } from "../test-support/operator.js";

type Result = Awaited<ReturnType<Client["callTool"]>>;

const TOOL_NAMES = [
  "evaluate",
  "compile",
  "run",
  "status",
  "next",
  "show",
  "gates",
  "log",
  "verify",
  "report",
];

async function connect(cwd: string, env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp"],
    cwd,
    // The test operator's key: the run tool's detached `dwm run` signs as the operator does.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...operatorEnv(), ...env },
    stderr: "pipe",
  });
  const client = new Client({ name: "dwm-mcp-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

/** The structured result of a successful call. */
function ok<T = Record<string, unknown>>(r: Result): T {
  if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
  return r.structuredContent as T;
}

/** The DWM error document of a failed call. */
function errorOf(r: Result): {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
} {
  expect(r.isError).toBe(true);
  expect(r.structuredContent).toBeUndefined();
  const text = (r.content as { type: string; text: string }[])[0]?.text ?? "";
  return (JSON.parse(text) as { error: { code: string; message: string; hint?: string } }).error;
}

/** Every file under `dir` with its bytes, for before/after comparisons. */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out[f] = fs.readFileSync(p, "utf8");
  }
  return out;
}

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The outcome a detached runner printed last in its log (`.dwm/mcp/<run>.log`), once it has. */
function runnerOutcome(log: string): Promise<{ kind: string; status?: string }> {
  return until(`the runner's outcome in ${log}`, async () => {
    const last = fs.readFileSync(log, "utf8").trim().split("\n").at(-1);
    const doc = last ? (JSON.parse(last) as { kind: string; status?: string }) : null;
    return doc?.kind === "run-outcome" ? doc : null;
  });
}

describe("dwm mcp over stdio, with the SDK's client", () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  let repo: string;
  let client: Client;

  beforeAll(async () => {
    repo = auditRepo(cleanups).path;
    // The scans sleep, so the runner is still running when the run tool is called again.
    client = await connect(repo, { DWM_EXAMPLE_SLOW_MS: "1500" });
    cleanups.push(() => client.close());
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("lists exactly its tools: none approves, rejects or touches an approval policy", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object");
      const text = JSON.stringify(t.inputSchema);
      expect(text).not.toMatch(/approv|reject|polic/i);
      expect(t.name).not.toMatch(/approv|reject|polic/i);
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    // Output schemas come from schemas/, standalone: refs to other files are folded in.
    expect(byName.status?.outputSchema?.properties).toHaveProperty("next_action");
    expect(JSON.stringify(byName.status?.outputSchema)).not.toMatch(/"\$ref":"[^#]/);
    expect(byName.evaluate?.outputSchema?.properties).toHaveProperty("problems");
    expect(byName.status?.annotations?.readOnlyHint).toBe(true);
    expect(byName.run?.annotations?.readOnlyHint).toBe(false);
  });

  it("evaluates a plan given as a path, as an object and as JSON text", async () => {
    const byPath = ok(await client.callTool({ name: "evaluate", arguments: { plan: "workflow.plan.json" } }));
    expect(byPath).toMatchObject({
      kind: "scorecard",
      valid: true,
      plan_id: "repo-audit",
      decision: "activate",
    });
    const plan = JSON.parse(fs.readFileSync(path.join(repo, "workflow.plan.json"), "utf8"));
    const inline = ok(await client.callTool({ name: "evaluate", arguments: { plan } }));
    expect(inline.plan_digest).toBe(byPath.plan_digest);
    const asText = ok(await client.callTool({ name: "evaluate", arguments: { plan: JSON.stringify(plan) } }));
    expect(asText.plan_digest).toBe(byPath.plan_digest);

    const invalid = await client.callTool({ name: "evaluate", arguments: { plan: { plan_id: "x" } } });
    expect(ok(invalid).valid).toBe(false);
    expect(invalid._meta?.["dwm/exit_code"]).toBe(1);
    expect((ok(invalid).problems as { code: string }[]).length).toBeGreaterThan(0);
  });

  it("refuses bad arguments with ERR_MCP_ARGUMENTS, an unknown tool with ERR_MCP_UNKNOWN_TOOL, each with its hint", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["evaluate", {}, "/plan is required"],
      ["evaluate", { plan: 3 }, "/plan must match exactly one of its forms"],
      ["run", { concurrency: 0 }, "/concurrency must be ≥ 1"],
      ["run", { backend: "rm -rf" }, "/backend must be one of"],
      // As `dwm run --backend`: shell and command take their argv from a bindings file.
      ["run", { backend: "shell" }, "/backend must be one of"],
      ["run", { backend: "command" }, "/backend must be one of"],
      ["run", { approve: ["write"] }, "/approve is not an argument of this tool"],
      ["log", { after_seq: "3" }, "/after_seq must be integer"],
      ["show", { run: "x" }, "/packet is required"],
    ];
    for (const [name, args, message] of cases) {
      const e = errorOf(await client.callTool({ name, arguments: args }));
      expect(e.code).toBe("ERR_MCP_ARGUMENTS");
      expect(e.message).toContain(message);
      expect(e.hint).toMatch(/inputSchema/);
    }
    const unknown = errorOf(await client.callTool({ name: "approve", arguments: { run: "x", gate: "y" } }));
    expect(unknown.code).toBe("ERR_MCP_UNKNOWN_TOOL");
    expect(unknown.details?.tools).toEqual(TOOL_NAMES);
    // A command's own error comes back with its code and hint.
    const noRun = errorOf(await client.callTool({ name: "status", arguments: { run: "nope" } }));
    expect(noRun.code).toBe("ERR_CLI_RUN_NOT_FOUND");
    expect(noRun.hint).toMatch(/run id/);
    const badPlan = errorOf(await client.callTool({ name: "evaluate", arguments: { plan: "{ nope" } }));
    expect(badPlan.code).toBe("ERR_MCP_ARGUMENTS");
  });

  it("codes a file-system failure as the command line does (ERR_FS_WRONG_KIND), not ERR_CLI_INTERNAL", async () => {
    fs.writeFileSync(path.join(repo, "a.txt"), "a file, not a folder\n");
    try {
      const e = errorOf(
        await client.callTool({
          name: "compile",
          arguments: { plan: "workflow.plan.json", store: "a.txt/s" },
        }),
      );
      expect(e.code).toBe("ERR_FS_WRONG_KIND");
      expect(e.hint).toBeDefined();
    } finally {
      fs.rmSync(path.join(repo, "a.txt"));
    }
  });

  it("compiles, starts the run detached, says so when called again while it runs, and follows it to its gate", async () => {
    // The client checks a result against its tool's output schema once it has listed the tools.
    await client.listTools();
    const compiled = ok(
      await client.callTool({ name: "compile", arguments: { plan: "workflow.plan.json" } }),
    );
    expect(compiled).toMatchObject({ kind: "compile-result", plan_id: "repo-audit" });
    const runId = compiled.run_id as string;
    const check = ok(
      await client.callTool({ name: "compile", arguments: { plan: "workflow.plan.json", check: true } }),
    );
    expect(check).toMatchObject({ kind: "run-check", ok: true, run_id: runId });
    // The operator, not a tool, decides the write gate: an MCP-started run honours no policy file.
    const decided = spawnSync(process.execPath, [BIN, "approve", runId, "write"], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...operatorEnv() },
      encoding: "utf8",
    });
    expect(decided.status, decided.stderr).toBe(0);

    const t0 = Date.now();
    const started = ok(await client.callTool({ name: "run", arguments: { target: "workflow.plan.json" } }));
    expect(started).toMatchObject({
      kind: "mcp-run-start",
      run_id: runId,
      state: "started",
      exit_code: null,
    });
    expect(started.log).toBe(`.dwm/mcp/${runId}.log`);
    // It answered while the runner works (the three scans alone sleep 1.5 s each, two at a time).
    const again = ok(await client.callTool({ name: "run", arguments: { target: runId } }));
    expect(again).toMatchObject({ state: "already-running", pid: started.pid, log: null });
    expect(Date.now() - t0).toBeLessThan(60_000);

    // next says "wait" while the runner holds the run, then what the gate needs.
    const next = await until("the human gate", async () => {
      const n = ok<{ action: string }>(await client.callTool({ name: "next", arguments: { run: runId } }));
      return n.action === "wait" || n.action === "run" ? null : n;
    });
    expect(next).toMatchObject({ kind: "next-action", action: "approve-gate", gate_id: "human-gate" });
    const status = ok<{ waiting_gates: string[]; next_action: { kind: string } }>(
      await client.callTool({ name: "status", arguments: {} }),
    );
    expect(status.waiting_gates).toEqual(["human-gate"]);
    expect(status.next_action.kind).toBe("approve");
    // The runner stopped at the gate (exit 4) and released the run.
    const log = fs
      .readFileSync(path.join(repo, started.log as string), "utf8")
      .trim()
      .split("\n");
    expect(JSON.parse(log.at(-1) as string)).toMatchObject({
      kind: "run-outcome",
      status: "gate",
      exit_code: 4,
    });

    const gates = ok<{ gates: { gate_id: string; waiting: boolean; packets: { packet_id: string }[] }[] }>(
      await client.callTool({ name: "gates", arguments: { run: runId } }),
    );
    const waiting = gates.gates.find((g) => g.waiting);
    expect(waiting?.gate_id).toBe("human-gate");
    expect(waiting?.packets.map((p) => p.packet_id)).toEqual(["human_gate"]);

    const shown = ok<{
      kind: string;
      packet_id: string;
      state: string;
      attempts: { attempt: number; outcome: string; verdict: string; failing_checks: unknown[] }[];
    }>(await client.callTool({ name: "show", arguments: { run: runId, packet: "inventory" } }));
    expect(shown).toMatchObject({ kind: "packet-detail", packet_id: "inventory", state: "completed" });
    expect(shown.attempts.map((a) => [a.attempt, a.outcome, a.verdict, a.failing_checks])).toEqual([
      [1, "ok", "approved", []],
    ]);
    const one = ok<{ attempts: unknown[] }>(
      await client.callTool({ name: "show", arguments: { run: runId, packet: "inventory", attempt: 1 } }),
    );
    expect(one.attempts).toHaveLength(1);
    const missing = errorOf(
      await client.callTool({ name: "show", arguments: { run: runId, packet: "../x" } }),
    );
    expect(missing.code).toBe("ERR_CLI_PACKET_NOT_FOUND");

    const all = ok<{ total: number; events: { seq: number; type: string }[] }>(
      await client.callTool({ name: "log", arguments: { run: runId } }),
    );
    expect(all.events).toHaveLength(all.total);
    const page = ok<{ events: { seq: number }[] }>(
      await client.callTool({ name: "log", arguments: { run: runId, after_seq: 3, limit: 2 } }),
    );
    expect(page.events.map((e) => e.seq)).toEqual([4, 5]);
    const gateEvents = ok<{ events: { type: string }[] }>(
      await client.callTool({ name: "log", arguments: { run: runId, type: "gate" } }),
    );
    expect(gateEvents.events.length).toBeGreaterThan(0);
    expect(gateEvents.events.every((e) => e.type.startsWith("gate."))).toBe(true);

    const verify = await client.callTool({ name: "verify", arguments: { run: runId } });
    expect(ok(verify)).toMatchObject({ ok: true, problems: [] });
    expect(verify._meta?.["dwm/exit_code"]).toBe(0);

    // No tool writes an approval: what approvals/ holds is the operator's `dwm approve`, and no
    // policy file (the repository has one) was honoured.
    const approvals = path.join(repo, ".dwm", "runs", runId, "approvals");
    const before = snapshot(approvals);
    expect(Object.keys(before)).toEqual([path.join("write", "1.json")]);
    for (const a of Object.values(before)) {
      // An approval is a Sigstore bundle: its DSSE payload is the in-toto statement, the approval its predicate.
      const payload = JSON.parse(a).dsseEnvelope.payload as string;
      const statement = JSON.parse(Buffer.from(payload, "base64").toString("utf8"));
      expect(statement.predicate.decided_by).toBe("operator");
    }
    const report = ok<{ run_id: string; file: string; opened: unknown }>(
      await client.callTool({ name: "report", arguments: { run: runId } }),
    );
    expect(report).toMatchObject({ run_id: runId, file: `.dwm/reports/${runId}.html`, opened: false });
    expect(fs.readFileSync(path.join(repo, report.file), "utf8")).toMatch(/^<!doctype html>/i);
    const rerun = ok(await client.callTool({ name: "run", arguments: { target: runId } }));
    // A runner again, which finds nothing to do but the gate and stops there (exit 4) on its own.
    expect(["started", "finished"]).toContain(rerun.state);
    const outcome = await runnerOutcome(path.join(repo, rerun.log as string));
    expect(outcome).toMatchObject({ status: "gate", exit_code: 4 });
    for (const name of ["status", "next", "gates", "verify", "log"]) {
      ok(await client.callTool({ name, arguments: { run: runId } }));
    }
    expect(snapshot(approvals)).toEqual(before);
    const humanGate = path.join(approvals, "human-gate");
    expect(fs.existsSync(humanGate)).toBe(false);
  });

  it("a run it starts honours no approval policy, not even one beside the agent's plan", async () => {
    const agentRepo = auditRepo(cleanups).path;
    fs.rmSync(path.join(agentRepo, "dwm.policy.json"));
    fs.mkdirSync(path.join(agentRepo, "agent"));
    fs.copyFileSync(
      path.join(agentRepo, "workflow.plan.json"),
      path.join(agentRepo, "agent", "workflow.plan.json"),
    );
    fs.writeFileSync(
      path.join(agentRepo, "agent", "dwm.policy.json"),
      JSON.stringify({ kind: "approval-policy", schema_version: "1", approve: ["write", "shell-process"] }),
    );
    const agent = await connect(agentRepo);
    cleanups.push(() => agent.close());
    const started = ok(
      await agent.callTool({ name: "run", arguments: { target: "agent/workflow.plan.json" } }),
    );
    const outcome = await runnerOutcome(path.join(agentRepo, started.log as string));
    // It stops at the write gate, which only the operator can decide; nothing was approved.
    expect(outcome).toMatchObject({ status: "gate", exit_code: 4, waiting_gates: [{ gate_id: "write" }] });
    const runDir = path.join(agentRepo, ".dwm", "runs", started.run_id as string);
    expect(fs.existsSync(path.join(runDir, "approvals"))).toBe(false);
    expect(fs.readFileSync(path.join(runDir, "journal.jsonl"), "utf8")).not.toContain('"gate.approved"');
  });

  it("a lock being written (partial) is a live runner's: the run tool starts none and leaves its log alone", async () => {
    const lockedRepo = auditRepo(cleanups).path;
    const compiled = spawnSync(process.execPath, [BIN, "compile", "workflow.plan.json", "--json"], {
      cwd: lockedRepo,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...operatorEnv() },
      encoding: "utf8",
    });
    expect(compiled.status, compiled.stderr).toBe(0);
    const runId = JSON.parse(compiled.stdout).run_id as string;
    // The instant between a runner's create and write of its lease; its log is being written too.
    fs.writeFileSync(path.join(lockedRepo, ".dwm", "runs", runId, "lock"), '{"pid":');
    const log = path.join(lockedRepo, ".dwm", "mcp", `${runId}.log`);
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.writeFileSync(log, '{"seq":1}\n');
    const locked = await connect(lockedRepo);
    cleanups.push(() => locked.close());
    const r = ok(await locked.callTool({ name: "run", arguments: { target: runId } }));
    expect(r).toMatchObject({ state: "already-running", log: null, holder: { pid: -1, host: "" } });
    expect(fs.readFileSync(log, "utf8")).toBe('{"seq":1}\n');
  });

  it("serves the skill, the schema files and each run's plan and scorecard as resources", async () => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain("dwm://skill/SKILL.md");
    expect(uris).toContain("dwm://skill/references/workflow-plan-schema.md");
    expect(uris).toContain("dwm://schemas/workflow-plan.schema.json");
    const skill = await client.readResource({ uri: "dwm://skill/SKILL.md" });
    expect(skill.contents[0]).toMatchObject({
      mimeType: "text/markdown",
      text: fs.readFileSync(path.join(EXAMPLES, "..", "skill", "SKILL.md"), "utf8"),
    });
    const schema = await client.readResource({ uri: "dwm://schemas/status-report.schema.json" });
    expect(JSON.parse((schema.contents[0] as { text: string }).text).title).toBe("StatusReport");
    const run = uris.find((u) => /^dwm:\/\/runs\/[^/]+\/plan\.json$/.test(u)) as string;
    const plan = await client.readResource({ uri: run });
    expect(JSON.parse((plan.contents[0] as { text: string }).text).plan_id).toBe("repo-audit");
    const scorecard = await client.readResource({ uri: run.replace("plan.json", "scorecard.json") });
    expect(JSON.parse((scorecard.contents[0] as { text: string }).text).kind).toBe("scorecard");
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual([
      "dwm://runs/{run_id}/plan.json",
      "dwm://runs/{run_id}/scorecard.json",
      "dwm://runs/{run_id}/report.html",
    ]);
    for (const uri of [
      "dwm://skill/../../etc/passwd",
      "dwm://runs/nope/plan.json",
      "dwm://schemas/x.schema.json",
    ]) {
      const e = await client.readResource({ uri }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(McpError);
      expect((e as McpError).code).toBe(-32002);
      expect((e as McpError).message).toContain("ERR_MCP_RESOURCE_NOT_FOUND");
    }
  });

  it("ends when its client closes stdin, answering what was asked first", async () => {
    const { spawnSync } = await import("node:child_process");
    const lines = [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "verify", arguments: {} } },
    ];
    const r = spawnSync(process.execPath, [BIN, "mcp"], {
      cwd: repo,
      input: `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const answers = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[1].result.structuredContent).toMatchObject({ ok: true });
  });
});
