import type { Packet } from "@dwm/schemas";

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
