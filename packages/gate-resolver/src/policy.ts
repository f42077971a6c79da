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
 * rejected. Recorded as decided by the policy (`decided_by: policy`, approver source
 * `policy-file`), to be signed with the operator's key `keyId` at integration head
 * `integrationHead`. Never a human-gate phase, a gate opened at run time, or a gate whose
 * safe default is `ask` (the plan asks for the operator's own decision on it, `dwm approve`;
 * `dwm run --approve` goes through here too). Pure: the caller signs, writes and journals them.
 */
export function policyApprovals(
  state: RunState,
  run: RunView,
  policy: ApprovalPolicy,
  options: { clock: Clock; policyName?: string; keyId: string; integrationHead: string | null },
): Approval[] {
  const out: Approval[] = [];
  for (const [gateId, gate] of run.gates) {
    if (!(policy.approve as readonly string[]).includes(gate.category)) continue;
    if (gate.default_action === "ask") continue;
    if (!state.gates[gateId]) continue;
    const view = gateView(state, run, gateId);
    if (!view.preapprovable || view.digest === null) continue;
    if (view.state.state !== "closed" && view.state.state !== "open") continue;
    const name = options.policyName ?? POLICY_FILE;
    out.push({
      kind: "approval",
      schema_version: "2",
      run_id: state.run_id,
      gate_id: gateId,
      gate_digest: view.digest as Approval["gate_digest"],
      integration_head: options.integrationHead,
      decision: "approve",
      reason: `pre-approved by ${name}: category ${gate.category}`,
      packets: [],
      approver: { name, source: "policy-file" },
      key_id: options.keyId,
      decided_by: "policy",
      policy: name,
      at: options.clock.now(),
    });
  }
  return out;
}
