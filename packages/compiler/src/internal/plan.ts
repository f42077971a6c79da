// The plan fields the compiler reads. The plan-evaluator has validated the plan
// before any of this is used, so these are views, not checks.

export interface PlanToolPermissions {
  read: boolean;
  write: boolean;
  shell: boolean;
  network: boolean;
  mcp_connectors: string[];
  requires_escalation_for: string[];
}

export interface PlanWorkerView {
  id: string;
  role: string;
  tool_permissions: PlanToolPermissions;
  forbidden_actions: string[];
  context_budget: { max_files: number; max_tokens: number; must_include: string[]; must_exclude: string[] };
  prompt_contract: { inputs: string[]; required_output_schema: string; stop_conditions: string[] };
  ownership: string[];
  /** Schema 0.6: the worker that reviews this worker's results. */
  reviewer?: string;
}

export interface PlanPhaseView {
  id: string;
  name: string;
  entry_criteria: string[];
  exit_criteria: string[];
  depends_on: string[];
  worker_ids: string[];
  outputs: string[];
  /** Schema 0.6: a phase's own completion check. */
  completion_check?: string;
  /** Schema 0.6: a phase's own instruction. */
  instruction?: string;
  /** Schema 0.6: a deterministic command step. */
  command?: unknown;
  /** Schema 0.6: an explicit gate phase (`gate`) or a work phase (`work`, the default). */
  kind?: string;
  /** Schema 0.6: what the approver of a gate phase must look at. */
  review?: string[];
  /** Schema 0.6: this phase is the first per-item phase of a fan-out. */
  fan_out?: PlanFanOutView;
  /** Schema 0.6: the worker that tries to refute this phase's result. */
  reviewer?: string;
}

export interface PlanFanOutView {
  over: string;
  key: string;
  max_items: number;
  pipeline: string[];
  reduce: string;
}

export interface PlanHandoffView {
  from_phase: string;
  to_phase: string;
  artifact: string;
  artifact_schema: { format: string; required_fields: string[]; validation_command: string };
}

export interface PlanRiskGateView {
  trigger: string;
  safe_default: unknown;
  requires_user_approval: boolean;
  /** Schema 0.6: a structured category. */
  category?: string;
}

export interface PlanView {
  schema_version: string;
  plan_id: string;
  objective: string;
  surfaces: { id: string; kind: string; locator: string; access_mode: string }[];
  phases: PlanPhaseView[];
  workers: PlanWorkerView[];
  handoffs: PlanHandoffView[];
  verification: { claim_or_output: string; falsifier: string; evidence_required: string[] }[];
  risk_gates: PlanRiskGateView[];
  budget: { max_retries: number };
  execution_path: {
    first_slice: {
      instruction: string;
      inputs: string[];
      expected_output: string;
      completion_check: string;
      forbidden_actions: string[];
    };
  };
}
