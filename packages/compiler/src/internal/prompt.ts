import type { Packet, PacketWorker } from "@dwm/schemas";

/** Where an item packet's attempt finds its item: `.dwm-inputs/<this>` in the worktree (canonical JSON). */
export const FANOUT_ITEM_INPUT = "fanout-item.json";

// Plan text is free-form; keep every value on its own list item so a newline in
// it cannot start a new Markdown block (continuation lines are indented).
function inline(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(/\n/g, "\n  ");
}

function code(text: string): string {
  const t = text.replace(/\r\n?|\n/g, " ");
  return t.includes("`") ? `\`\` ${t} \`\`` : `\`${t}\``;
}

/** A free-text paragraph: continuation lines indented, and a leading `#` escaped so plan text cannot open a section. */
function para(text: string): string {
  return inline(text).replace(/^#/, "\\#");
}

function bullets(items: readonly string[], empty = "- none"): string[] {
  return items.length === 0 ? [empty] : items.map((i) => `- ${inline(i)}`);
}

function list(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.map(inline).join("; ");
}

function permissions(w: PacketWorker): string {
  const p = w.tool_permissions;
  const yes = (b: boolean) => (b ? "yes" : "no");
  return [
    `read ${yes(p.read)}`,
    `write ${yes(p.write)}`,
    `shell ${yes(p.shell)}`,
    `network ${yes(p.network)}`,
    `MCP connectors ${p.mcp_connectors.length ? p.mcp_connectors.map(code).join(", ") : "none"}`,
    `escalation required for ${p.requires_escalation_for.length ? p.requires_escalation_for.join(", ") : "nothing"}`,
  ].join("; ");
}

/** A titled section of the prompt, or null when the packet has nothing for it. */
type Section = readonly [title: string, lines: string[]] | null;

function header(packet: Packet, packetDigest: string): string[] {
  const lines = [
    `# Packet ${packet.packet_id}`,
    "",
    `- Plan: ${code(packet.plan_id)}`,
    `- Phase: ${inline(packet.phase.name)} (${code(packet.phase.id)})`,
    `- Packet digest: ${packetDigest}`,
  ];
  if (packet.human_gate) lines.push("- Human gate: this packet completes only when an operator approves it.");
  return lines;
}

function firstSliceSection(packet: Packet): Section {
  const f = packet.first_slice;
  if (!f) return null;
  return [
    "First slice",
    [
      para(f.instruction),
      "",
      `Expected output: ${inline(f.expected_output)}`,
      `Completion check: ${inline(f.completion_check)}`,
      "",
      "Inputs:",
      ...bullets(f.inputs),
      "",
      "Forbidden in the first slice:",
      ...bullets(f.forbidden_actions),
    ],
  ];
}

function fanoutSection(packet: Packet): Section {
  const fo = packet.fanout;
  if (fo?.role === "template") {
    return [
      "Fan-out",
      [
        `This packet is a template: it never runs itself. When packet ${code(fo.source_packet)} completes, DWM expands it into one packet per item of ${code(fo.over)} (key ${code(fo.key)}, at most ${fo.max_items} items without an approval), phase ${fo.position + 1} of the per-item pipeline ${fo.pipeline.map(code).join(" → ")}; ${code(fo.reduce)} receives every item's results as one list.`,
      ],
    ];
  }
  if (fo?.role === "item") {
    return [
      "Fan-out item",
      [
        `This packet handles one item of the fan-out ${code(fo.first)} (template ${code(fo.template)}): key ${code(fo.key)}. The item is in \`.dwm-inputs/${FANOUT_ITEM_INPUT}\` of the working directory:`,
        "",
        "```json",
        JSON.stringify(fo.item, null, 2),
        "```",
        "",
        `Write this item's outputs under ${code(`${packet.packet_id}/`)} (the paths listed below); its validation commands run in that folder.`,
      ],
    ];
  }
  return null;
}

function commandSection(packet: Packet): Section {
  const c = packet.command;
  if (!c) return null;
  const lines =
    "argv" in c
      ? [`Run without a shell: ${code(JSON.stringify(c.argv))}`]
      : ["Run with `/bin/sh -c`:", "", "```sh", c.script, "```"];
  if (c.timeout_ms !== undefined) lines.push("", `Timeout: ${c.timeout_ms} ms`);
  return ["Command", lines];
}

function inputLines(packet: Packet): string[] {
  return bullets(
    packet.inputs.map(
      (i) =>
        `${code(i.artifact)} from packet ${code(i.from_packet)} (${i.format}); required fields: ${list(i.required_fields)}`,
    ),
    "- no handoff inputs",
  );
}

function outputLine(o: Packet["outputs"][number]): string {
  const parts = [code(o.artifact)];
  if (o.format !== undefined) parts.push(`(${o.format})`);
  const rest: string[] = [];
  if (o.required_fields !== undefined) rest.push(`required fields: ${list(o.required_fields)}`);
  if (o.validation_command !== undefined) rest.push(`validated by ${code(o.validation_command)}`);
  if (o.to_packets !== undefined && o.to_packets.length > 0)
    rest.push(`handed to ${o.to_packets.map(code).join(", ")}`);
  return rest.length ? `${parts.join(" ")}; ${rest.join("; ")}` : parts.join(" ");
}

function workerLines(packet: Packet): string[] {
  const workers: string[] = [];
  if (packet.workers.length === 0) workers.push("No agent worker: this packet is a deterministic step.");
  for (const w of packet.workers) {
    if (workers.length) workers.push("");
    workers.push(
      `### ${code(w.id)}: ${inline(w.role)}`,
      "",
      `- Permissions: ${permissions(w)}`,
      `- Ownership (what it may change): ${list(w.ownership)}`,
      `- Forbidden actions: ${list(w.forbidden_actions)}`,
      `- Context budget: at most ${w.context_budget.max_files} files and ${w.context_budget.max_tokens} tokens; must include: ${list(w.context_budget.must_include)}; must exclude: ${list(w.context_budget.must_exclude)}`,
      `- Prompt inputs: ${list(w.prompt_contract.inputs)}`,
      `- Required output: ${inline(w.prompt_contract.required_output_schema)}`,
      `- Stop conditions: ${list(w.prompt_contract.stop_conditions)}`,
    );
  }
  return workers;
}

function gateLines(packet: Packet): string[] {
  if (packet.gates.length === 0) return ["- none: no approval is needed before this packet starts"];
  return [
    "This packet is dispatched only after each of these gates is approved by an operator:",
    ...packet.gates.map((g) => `- ${code(g)}`),
  ];
}

function completionLines(packet: Packet): string[] {
  return [
    packet.completion_check === null
      ? "Every exit criterion above holds and every expected output exists and passes its validation."
      : para(packet.completion_check),
    "",
    "DWM reviews recorded evidence, not claims: the outputs, the checks it runs itself, and the diff.",
  ];
}

/**
 * The worker prompt of a packet: Markdown rendered only from the packet and its
 * digest, so it can be re-rendered and compared at any time. Every section is
 * always present (with "none" when empty) to keep the shape stable for workers.
 */
export function renderPrompt(packet: Packet, packetDigest: string): string {
  const sections: Section[] = [
    ["Objective", [para(packet.objective)]],
    ["Instruction", [para(packet.instruction)]],
    firstSliceSection(packet),
    fanoutSection(packet),
    commandSection(packet),
    [
      "Depends on",
      bullets(
        packet.depends_on.map((d) => `packet ${code(d)}`),
        "- nothing: this packet can start first",
      ),
    ],
    ["Inputs", inputLines(packet)],
    ["Expected outputs", bullets(packet.outputs.map(outputLine))],
    ["Entry criteria", bullets(packet.phase.entry_criteria)],
    ["Exit criteria", bullets(packet.phase.exit_criteria)],
    ["Workers", workerLines(packet)],
    [
      "Verification",
      bullets(
        packet.verification.map(
          (v) =>
            `${inline(v.claim_or_output)}; falsified if: ${inline(v.falsifier)}; evidence: ${list(v.evidence_required)}`,
        ),
      ),
    ],
    ["Gates", gateLines(packet)],
    [
      "Stop conditions",
      [
        ...bullets(packet.stop_conditions, "- none beyond the budget"),
        `- Retries after changes are requested: at most ${packet.budget.max_retries}`,
      ],
    ],
    ["Completion check", completionLines(packet)],
  ];
  const out = header(packet, packetDigest);
  for (const s of sections) if (s) out.push("", `## ${s[0]}`, "", ...s[1]);
  return `${out.join("\n")}\n`;
}
