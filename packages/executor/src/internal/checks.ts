import fs from "node:fs";
import path from "node:path";
import type { ProcessRunner, Sandbox, SandboxView } from "@dwm/core";
import type { AttemptFinding, AttemptLimits, CheckResult, Packet } from "@dwm/schemas";
import { DEFAULT_MAX_OUTPUT_BYTES, outputCapFindings } from "./hand-over.js";
import { cappedFiles, DEFAULT_KILL_GRACE_MS, launchWorker } from "./run-worker.js";

export interface PlannedCheck {
  id: string;
  kind: "validation" | "verification";
  source: string;
  command: string;
}

// Programs a 0.5 plan's `evidence_required` entries start with when they are commands.
const PROGRAMS = new Set([
  "bash",
  "bun",
  "cargo",
  "deno",
  "git",
  "go",
  "make",
  "node",
  "npm",
  "npx",
  "pnpm",
  "pytest",
  "python",
  "python3",
  "ruby",
  "sh",
  "test",
  "uv",
  "yarn",
]);
const SCRIPT = /^(\.\/)?[A-Za-z0-9._/-]+\.(sh|py|mjs|cjs|js|ts|rb)$/;

/**
 * 0.5 plans mix commands ("python scripts/dwm.py doctor --json"), file paths
 * ("inventory.json") and prose ("source review of scripts/dwm.py") in
 * `verification[].evidence_required`. An entry is a command when its first word is a
 * known program, or a script path followed by arguments; anything else is left to the reviewer.
 */
export function isVerificationCommand(entry: string): boolean {
  const words = entry.trim().split(/\s+/);
  const first = words[0] ?? "";
  if (PROGRAMS.has(first)) return words.length > 1 || first === "make";
  return SCRIPT.test(first) && (words.length > 1 || first.startsWith("./"));
}

/** The checks DWM runs itself after the work: each output's validation_command, then verification commands. */
export function planChecks(packet: Packet): PlannedCheck[] {
  const checks: PlannedCheck[] = [];
  let v = 0;
  for (const o of packet.outputs) {
    if (o.validation_command === undefined) continue;
    checks.push({
      id: `validation-${++v}`,
      kind: "validation",
      source: o.artifact,
      command: o.validation_command,
    });
  }
  const seen = new Set(checks.map((c) => c.command));
  let n = 0;
  for (const item of packet.verification) {
    for (const e of item.evidence_required) {
      const cmd = e.trim();
      if (!isVerificationCommand(cmd) || seen.has(cmd)) continue;
      seen.add(cmd);
      checks.push({
        id: `verification-${++n}`,
        kind: "verification",
        source: item.claim_or_output,
        command: cmd,
      });
    }
  }
  return checks;
}

const DEFAULT_CHECK_TIMEOUT_MS = 10 * 60_000;

/**
 * Where and how DWM's own checks run: in a clean checkout of the attempt's commit (what will be
 * merged, not what the worker left), inside the sandbox like a worker (a check is plan content),
 * with the base environment only.
 */
export interface CheckSettings {
  runner: ProcessRunner;
  sandbox: Sandbox;
  view: SandboxView;
  /** The clean checkout. */
  checkout: string;
  attemptDir: string;
  env: Readonly<Record<string, string>>;
  limits: AttemptLimits;
}

/**
 * Run each planned check with `sh -c` in the clean checkout; its stdout and stderr go to
 * `checks/<id>.*`, capped while it runs (a check past the cap is killed, and fails).
 */
export async function runChecks(
  planned: readonly PlannedCheck[],
  s: CheckSettings,
): Promise<{ checks: CheckResult[]; findings: AttemptFinding[] }> {
  const results: CheckResult[] = [];
  const cap = s.limits.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const cut: string[] = [];
  let killed = false;
  for (const c of planned) {
    const out = `checks/${c.id}.stdout`;
    const err = `checks/${c.id}.stderr`;
    fs.mkdirSync(path.join(s.attemptDir, "checks"), { recursive: true });
    const argv = ["sh", "-c", c.command];
    const r = await launchWorker(s.runner, s.sandbox, {
      request: {
        argv,
        cwd: s.checkout,
        env: s.env,
        stdoutFile: path.join(s.attemptDir, out),
        stderrFile: path.join(s.attemptDir, err),
        timeoutMs: s.limits.check_timeout_ms ?? DEFAULT_CHECK_TIMEOUT_MS,
        killGraceMs: s.limits.kill_grace_ms ?? DEFAULT_KILL_GRACE_MS,
        maxOutputBytes: cap,
      },
      view: s.view,
    });
    const files = [out, err].map((f) => path.join(s.attemptDir, f));
    for (const file of files) if (!fs.existsSync(file)) fs.writeFileSync(file, "");
    const capped = cappedFiles(r, files[0] ?? "", files[1] ?? "", cap);
    cut.push(...capped.files);
    killed ||= capped.killed;
    results.push({
      id: c.id,
      kind: c.kind,
      source: c.source,
      command: c.command,
      argv,
      exit_code: r.exitCode,
      signal: r.signal,
      timed_out: r.timedOut,
      duration_ms: Math.max(0, Math.round(r.durationMs)),
      stdout: out,
      stderr: err,
      passed: r.exitCode === 0 && !r.timedOut && r.spawnError === null,
    });
  }
  return { checks: results, findings: outputCapFindings(null, s.attemptDir, cut, cap, killed) };
}
