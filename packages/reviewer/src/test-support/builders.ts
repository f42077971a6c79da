import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes } from "@dwm/core";
import type { Attempt, CheckResult, Invocation, OutputRecord, Packet, PacketWorker } from "@dwm/schemas";

export const COMMIT_A = "a".repeat(40);
export const COMMIT_B = "b".repeat(40);

export function worker(overrides: Partial<PacketWorker> = {}): PacketWorker {
  return {
    id: "builder",
    role: "build it",
    tool_permissions: {
      read: true,
      write: true,
      shell: true,
      network: false,
      mcp_connectors: [],
      requires_escalation_for: [],
    },
    ownership: ["src/"],
    forbidden_actions: [],
    prompt_contract: { inputs: [], required_output_schema: "report.json", stop_conditions: [] },
    context_budget: { max_files: 10, max_tokens: 1000, must_include: [], must_exclude: [] },
    ...overrides,
  };
}

/** A writing packet that must produce report.json (a JSON handoff with `items`, validated by scripts/check-report.mjs). */
export function makePacket(overrides: Partial<Packet> = {}): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: "build",
    plan_id: "plan",
    phase: {
      id: "build",
      name: "Build",
      entry_criteria: [],
      exit_criteria: ["report.json lists items"],
      outputs: ["report.json"],
    },
    objective: "Build the thing.",
    instruction: "Write src/thing.ts and report.json.",
    depends_on: [],
    workers: [worker()],
    inputs: [],
    outputs: [
      {
        artifact: "report.json",
        format: "json",
        required_fields: ["items"],
        validation_command: "node scripts/check-report.mjs report.json",
        to_packets: ["next"],
      },
    ],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 2 },
    stop_conditions: [],
    completion_check: null,
    ...overrides,
  };
}

function invocation(overrides: Partial<Invocation> = {}): Invocation {
  return {
    worker_id: "builder",
    backend: "shell",
    argv: ["node", "build.mjs"],
    stdin: "none",
    env_names: ["PATH"],
    outcome: "ok",
    exit_code: 0,
    signal: null,
    timed_out: false,
    duration_ms: 5,
    prompt: "prompt.md",
    stdout: "workers/1-builder/stdout",
    stderr: "workers/1-builder/stderr",
    transcript: null,
    output_dir: null,
    tokens: null,
    detail: null,
    ...overrides,
  };
}

export function check(overrides: Partial<CheckResult> = {}): CheckResult {
  return {
    id: "validation-1",
    kind: "validation",
    source: "report.json",
    command: "node scripts/check-report.mjs report.json",
    argv: ["node", "scripts/check-report.mjs", "report.json"],
    exit_code: 0,
    signal: null,
    timed_out: false,
    duration_ms: 3,
    stdout: "checks/validation-1.stdout",
    stderr: "checks/validation-1.stderr",
    passed: true,
    ...overrides,
  };
}

export const GOOD_DIFF = `diff --git a/src/thing.ts b/src/thing.ts
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/src/thing.ts
@@ -0,0 +1,2 @@
+export const thing = 1;
+export const other = 2;
`;

/** Writes evidence files into an attempt directory and builds a matching attempt.json. */
export class AttemptBuilder {
  private readonly files = new Map<string, string>();
  constructor(
    readonly dir: string,
    readonly packet: Packet,
  ) {
    this.file("prompt.md", "do it\n");
    this.file("workers/1-builder/stdout", "built\n");
    this.file("workers/1-builder/stderr", "");
  }

  file(rel: string, content: string): this {
    const f = path.join(this.dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content);
    this.files.set(rel, content);
    return this;
  }

  output(artifact: string, content: string): OutputRecord {
    const rel = `outputs/${artifact}`;
    this.file(rel, content);
    return {
      artifact,
      checked: true,
      found: true,
      path: rel,
      digest: digestBytes(content),
      bytes: Buffer.byteLength(content),
    };
  }

  /** The usual good attempt: report.json with items, validation passed, src/thing.ts added. */
  good(overrides: Partial<Attempt> = {}): Attempt {
    const out = this.output("report.json", '{"items":[1,2]}\n');
    this.file("checks/validation-1.stdout", "ok\n");
    this.file("checks/validation-1.stderr", "");
    this.file("diff.patch", GOOD_DIFF);
    return this.build({ outputs: [out], checks: [check()], diff: "diff.patch", ...overrides });
  }

  build(overrides: Partial<Attempt> = {}): Attempt {
    const base: Attempt = {
      kind: "attempt",
      schema_version: "1",
      executor_version: "0.1.0",
      run_id: "plan-000000000000",
      packet_id: this.packet.packet_id,
      packet_digest: digest(this.packet),
      prompt_digest: digestBytes("do it\n"),
      attempt: 1,
      binding_digest: digest({ b: 1 }),
      base_commit: COMMIT_A,
      branch: "dwm/plan-000000000000/build/1",
      head_commit: COMMIT_B,
      started_at: "2026-01-01T00:00:00.000Z",
      finished_at: "2026-01-01T00:00:01.000Z",
      duration_ms: 1000,
      outcome: "ok",
      exit_code: 0,
      signal: null,
      dry_run: false,
      repair_context_digest: null,
      env_names: ["PATH"],
      inputs: [],
      invocations: [invocation()],
      changed_files: [{ path: "src/thing.ts", status: "added", workers: ["builder"] }],
      diff: null,
      outputs: [],
      checks: [],
      findings: [],
      notes: [],
      tokens: null,
      files: [],
    };
    const a = { ...base, ...overrides };
    a.files = [...this.files.entries()]
      .map(([p, c]) => ({ path: p, digest: digestBytes(c), bytes: Buffer.byteLength(c) }))
      .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    return a;
  }
}

export function withInvocation(overrides: Partial<Invocation>): Invocation[] {
  return [invocation(overrides)];
}
