import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, nodeProcessRunner } from "@dwm/core";
import type { AttemptRequest, Packet, PacketWorker, WorkerBinding, WorkerBindings } from "@dwm/schemas";
import { FakeClock, git, makeTempDir, pathWithFakeClis, type TempDir } from "@dwm/test-utils";
import type { ExecutorPorts } from "../run-attempt.js";

export function worker(
  id: string,
  overrides: Partial<PacketWorker> = {},
  perms: Partial<PacketWorker["tool_permissions"]> = {},
): PacketWorker {
  return {
    id,
    role: `${id} role`,
    tool_permissions: {
      read: true,
      write: true,
      shell: true,
      network: false,
      mcp_connectors: [],
      requires_escalation_for: [],
      ...perms,
    },
    ownership: ["src/**"],
    forbidden_actions: [],
    prompt_contract: { inputs: [], required_output_schema: "report.md", stop_conditions: [] },
    context_budget: { max_files: 10, max_tokens: 8000, must_include: [], must_exclude: [] },
    ...overrides,
  };
}

export function packet(overrides: Partial<Packet> = {}): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: "build",
    plan_id: "demo",
    phase: {
      id: "build",
      name: "Build",
      entry_criteria: [],
      exit_criteria: ["report.md exists"],
      outputs: ["report.md"],
    },
    objective: "Demonstrate the executor.",
    instruction: "Write src/app.txt and report.md.",
    depends_on: [],
    workers: [worker("builder")],
    inputs: [],
    outputs: [
      {
        artifact: "report.md",
        format: "markdown",
        required_fields: [],
        validation_command: "test -s report.md",
      },
    ],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 1 },
    stop_conditions: [],
    completion_check: null,
    ...overrides,
  };
}

export function bindingsOf(map: Record<string, WorkerBinding>): WorkerBindings {
  return { kind: "worker-bindings", schema_version: "1", bindings: map };
}

export function request(
  repo: string,
  p: Packet,
  workers: Record<string, WorkerBinding>,
  overrides: Partial<AttemptRequest> = {},
): AttemptRequest {
  return {
    kind: "attempt-request",
    schema_version: "1",
    run_id: "demo-0123456789ab",
    packet: p,
    prompt: `# ${p.packet_id}\n\n${p.instruction}\n`,
    attempt: 1,
    base_commit: git(repo, "rev-parse", "HEAD"),
    binding: { bindings_digest: digest(bindingsOf(workers)), workers },
    inputs: [],
    repair_context: null,
    repo,
    limits: { timeout_ms: 20_000, kill_grace_ms: 200 },
    ...overrides,
  };
}

export function input(artifact: string, content: string) {
  return { artifact, digest: digestBytes(content), content_base64: Buffer.from(content).toString("base64") };
}

/** Ports for a real attempt: real processes and git, the fake CLIs first on PATH, a pinned clock. */
export function ports(store: TempDir, env: Record<string, string> = {}, n = 1): ExecutorPorts {
  return {
    processRunner: nodeProcessRunner,
    clock: new FakeClock("2026-03-01T12:00:00.000Z"),
    attemptDir: path.join(store.path, "attempts", "build", String(n)),
    env: { PATH: pathWithFakeClis(), HOME: store.path, LANG: "C.UTF-8", ...env },
    worktreeRoot: store.path,
  };
}

/** Every file of a checkout (but .git) with its digest, plus git's own view of it. */
export function snapshot(repo: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const e of fs.readdirSync(path.join(repo, rel), { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (r === ".git") continue;
      if (e.isDirectory()) visit(r);
      else out[r] = digestBytes(fs.readFileSync(path.join(repo, r)));
    }
  };
  visit("");
  out["<status>"] = git(repo, "status", "--porcelain", "--untracked-files=all");
  out["<HEAD>"] = git(repo, "rev-parse", "HEAD");
  out["<branch>"] = git(repo, "symbolic-ref", "HEAD");
  out["<index>"] = digestBytes(fs.readFileSync(path.join(repo, ".git", "index")));
  return out;
}

/** Every file below a directory, as text (to look for leaked secrets). */
export function allText(dir: string): string {
  let s = "";
  const visit = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) visit(f);
      else s += `\n--- ${f}\n${fs.readFileSync(f, "latin1")}`;
    }
  };
  visit(dir);
  return s;
}

export { makeTempDir };
