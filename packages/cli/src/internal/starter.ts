// The starter workflow `dwm init` writes: a schema-0.6 plan of two packets run by shell
// workers (node, which DWM needs anyway, and git): an inventory of the repository's tracked
// files, and a summary of it by file extension. Both write only under dwm-out/, so the run
// needs one approval, of the `write` risk gate (`dwm run workflow.plan.json --approve write`).

/** Where the starter workers write, relative to the repository root (in their worktrees; merged into the run's integration branch). */
export const STARTER_OUT = "dwm-out";

const INVENTORY_JS = [
  "const {execFileSync}=require('node:child_process');",
  "const fs=require('node:fs');",
  "const files=execFileSync('git',['ls-files'],{encoding:'utf8'}).split('\\n').filter(Boolean);",
  `fs.mkdirSync('${STARTER_OUT}',{recursive:true});`,
  `fs.writeFileSync('${STARTER_OUT}/inventory.json',JSON.stringify({count:files.length,files},null,2)+'\\n');`,
  "console.log(files.length+' tracked files');",
].join("");

const SUMMARY_JS = [
  "const fs=require('node:fs');",
  "const path=require('node:path');",
  "const inputs=process.env.DWM_INPUTS_DIR||'.dwm-inputs';",
  `const inv=JSON.parse(fs.readFileSync(path.join(inputs,'${STARTER_OUT}/inventory.json'),'utf8'));`,
  "const by={};",
  "for(const f of inv.files){const e=path.extname(f)||'(none)';by[e]=(by[e]||0)+1;}",
  "const rows=Object.entries(by).sort((a,b)=>b[1]-a[1]||(a[0]<b[0]?-1:1)).map(([e,n])=>'| '+e+' | '+n+' |');",
  `fs.mkdirSync('${STARTER_OUT}',{recursive:true});`,
  `fs.writeFileSync('${STARTER_OUT}/summary.md',['# Summary','',inv.count+' tracked files.','','# Files by extension','','| extension | files |','|---|---|',...rows,''].join('\\n'));`,
  "console.log(rows.length+' extensions');",
].join("");

/** A worker of the starter plan: it reads the repository and writes one file under dwm-out/. */
function worker(id: string, role: string, output: string, input: string) {
  return {
    id,
    role,
    ownership: [`${STARTER_OUT}/${output}`],
    forbidden_actions: [`editing files outside ${STARTER_OUT}/`],
    context_budget: { max_files: 50, max_tokens: 8000, must_include: [input], must_exclude: [".dwm/"] },
    prompt_contract: {
      inputs: [input],
      required_output_schema: `${STARTER_OUT}/${output}`,
      stop_conditions: ["an input is missing"],
    },
    tool_permissions: {
      read: true,
      write: true,
      shell: false,
      network: false,
      mcp_connectors: [],
      requires_escalation_for: ["write"],
    },
  };
}

/** The starter plan's two phases: the inventory, then the summary that reads it. */
function starterPhases(): Record<string, unknown>[] {
  return [
    {
      id: "inventory",
      name: "Inventory",
      depends_on: [],
      entry_criteria: ["the repository is checked out"],
      exit_criteria: [`${STARTER_OUT}/inventory.json lists every tracked file`],
      outputs: [`${STARTER_OUT}/inventory.json`],
      worker_ids: ["inventory-worker"],
    },
    {
      id: "summary",
      name: "Summary",
      depends_on: ["inventory"],
      entry_criteria: [`${STARTER_OUT}/inventory.json validates`],
      exit_criteria: [`${STARTER_OUT}/summary.md counts the files by extension`],
      outputs: [`${STARTER_OUT}/summary.md`],
      worker_ids: ["summary-worker"],
    },
  ];
}

/** The starter `workflow.plan.json` (schema 0.6). */
export function starterPlan(planId: string): Record<string, unknown> {
  return {
    schema_version: "0.6",
    plan_id: planId,
    created_by: "dynamic-workflow-designer",
    source_prompt:
      "Take stock of this repository: list its tracked files, then summarise them by file extension.",
    objective: `Write ${STARTER_OUT}/inventory.json (every tracked file) and ${STARTER_OUT}/summary.md (files by extension), each checked by DWM, merged into the run's integration branch.`,
    activation: {
      decision: "activate",
      downgrade_target: null,
      matched_thresholds: ["resumable-handoffs", "adversarial-verification"],
      reason: "A starter workflow: two packets, the second reads the first's handoff.",
    },
    assumptions: [
      {
        claim: "The repository has at least one commit.",
        verification: "The inventory lists its tracked files.",
      },
    ],
    budget: {
      file_touch_limit: `${STARTER_OUT}/ only`,
      max_agents: 2,
      max_retries: 1,
      max_rounds: 1,
      time_box: "minutes",
    },
    execution_path: {
      consumer: "runtime",
      mode: "runtime",
      first_slice: {
        instruction: `List every tracked file in ${STARTER_OUT}/inventory.json without changing any other file.`,
        inputs: ["workflow.plan.json", "repository path"],
        expected_output: `${STARTER_OUT}/inventory.json`,
        completion_check: `${STARTER_OUT}/inventory.json has count and files`,
        forbidden_actions: [`editing files outside ${STARTER_OUT}/`],
      },
    },
    handoffs: [
      {
        artifact: `${STARTER_OUT}/inventory.json`,
        from_phase: "inventory",
        to_phase: "summary",
        artifact_schema: {
          format: "json",
          required_fields: ["count", "files"],
          validation_command: `node -e "JSON.parse(require('fs').readFileSync('${STARTER_OUT}/inventory.json','utf8'))"`,
        },
      },
    ],
    parallelism: {
      barriers: ["the inventory before the summary"],
      concurrency_cap: 2,
      fan_in_rule: "The summary reads the inventory.",
      shape: "pipeline",
    },
    patterns: ["Pipeline"],
    phases: starterPhases(),
    resume: {
      cacheable_outputs: [`${STARTER_OUT}/inventory.json`, `${STARTER_OUT}/summary.md`],
      invalidators: ["plan changes", "tracked files change"],
      restart_points: ["inventory"],
    },
    risk_gates: [
      {
        trigger: "write action",
        requires_user_approval: true,
        safe_default: { action: "stop", before: "write" },
      },
    ],
    surfaces: [
      { id: "repository", kind: "repo", locator: ".", access_mode: "read-only" },
      { id: "results", kind: "artifact", locator: `${STARTER_OUT}/`, access_mode: "write-approved" },
    ],
    verification: [
      {
        claim_or_output: `${STARTER_OUT}/summary.md counts every tracked file`,
        evidence_required: [`${STARTER_OUT}/summary.md`, `${STARTER_OUT}/inventory.json`],
        falsifier: "the counts by extension do not add up to the inventory's count",
      },
    ],
    workers: [
      worker("inventory-worker", "List the repository's tracked files", "inventory.json", "repository path"),
      worker(
        "summary-worker",
        "Summarise the inventory by file extension",
        "summary.md",
        `${STARTER_OUT}/inventory.json`,
      ),
    ],
  };
}

/** The starter `dwm.workers.json`: both workers on the shell backend, as argv (no shell). */
export function starterBindings(): Record<string, unknown> {
  return {
    kind: "worker-bindings",
    schema_version: "1",
    bindings: {
      "inventory-worker": { backend: "shell", argv: ["node", "-e", INVENTORY_JS] },
      "summary-worker": { backend: "shell", argv: ["node", "-e", SUMMARY_JS] },
    },
    prices: [],
  };
}
