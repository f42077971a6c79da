import fs from "node:fs";
import type { Clock } from "@dwm/core";
import { parseJsonText } from "@dwm/core";
import type { Approval, ApprovalPolicy, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { gateResolverErrors } from "./errors.js";
import { gateView } from "./gate-view.js";
import type { RunView } from "./types.js";

/** The operator's policy file name, in the repository root. */
export const POLICY_FILE = "dwm.policy.json";

/** Read an approval policy; null when the file does not exist. */
export function readApprovalPolicy(file: string): ApprovalPolicy | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw gateResolverErrors.create("ERR_GATE_POLICY_INVALID", `${file} cannot be read`, { cause: e });
  }
  let value: unknown;
  try {
    value = parseJsonText(text, file);
  } catch (e) {
    throw gateResolverErrors.create("ERR_GATE_POLICY_INVALID", `${file} is not valid JSON`, { cause: e });
  }
  const v = validateSchema("approval-policy", value);
  if (!v.ok) {
    throw gateResolverErrors.create(
      "ERR_GATE_POLICY_INVALID",
      `${file} does not match the approval-policy schema`,
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  return value as ApprovalPolicy;
}

/**
 * Approvals the policy gives: one per risk gate (source worker-permission, surface or
 * plan-risk-gate) whose category the policy lists and that is neither approved nor
 * rejected. Recorded with approver source `policy-file`. Never a human-gate phase, a
 * gate opened at run time, or a gate whose safe default is `ask` (the plan asks for the
 * operator's own decision on it, `dwm approve`; `dwm run --approve` goes through here
 * too). Pure: the caller writes and journals them.
 */
export function policyApprovals(
  state: RunState,
  run: RunView,
  policy: ApprovalPolicy,
  options: { clock: Clock; policyName?: string },
): Approval[] {
  const out: Approval[] = [];
  for (const [gateId, gate] of run.gates) {
    if (!(policy.approve as readonly string[]).includes(gate.category)) continue;
    if (gate.default_action === "ask") continue;
    if (!state.gates[gateId]) continue;
    const view = gateView(state, run, gateId);
    if (!view.preapprovable || view.digest === null) continue;
    if (view.state.state !== "closed" && view.state.state !== "open") continue;
    out.push({
      kind: "approval",
      schema_version: "1",
      run_id: state.run_id,
      gate_id: gateId,
      gate_digest: view.digest as Approval["gate_digest"],
      decision: "approve",
      reason: `pre-approved by ${options.policyName ?? POLICY_FILE}: category ${gate.category}`,
      packets: [],
      approver: { name: options.policyName ?? POLICY_FILE, source: "policy-file" },
      at: options.clock.now(),
    });
  }
  return out;
}
