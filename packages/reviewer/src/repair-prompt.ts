import type { Attempt, Review } from "@dwm/schemas";

function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}\n${text}\n${f}`;
}

/**
 * The prompt of a repair attempt: the packet prompt, then a "Repair" section with
 * the review's findings and their evidence (output tails, offending diff lines), the
 * diff summary of the reviewed attempt, and the commands that failed. Pure and
 * deterministic: the same inputs give the same bytes.
 */
export function renderRepairPrompt(packetPrompt: string, review: Review, attempt: Attempt): string {
  const out = [packetPrompt.replace(/\s+$/, ""), "", "## Repair", ""];
  out.push(
    `Attempt ${review.attempt} of this packet was reviewed and changes were requested. This is attempt ${review.attempt + 1}.`,
    "Fix every finding below and keep the parts of the work that were right. Every check runs again on this attempt.",
    "Do not delete, skip or weaken tests, and do not edit the scripts that validate or verify this packet: the review flags that.",
    "",
    "### Findings",
    "",
  );
  review.findings.forEach((f, i) => {
    out.push(`${i + 1}. \`${f.code}\` ${f.message}`);
    for (const e of f.evidence) {
      if (e.path) out.push(`   Evidence: ${e.path}`);
      if (e.excerpt) out.push("", fence(e.excerpt), "");
    }
  });
  if (review.findings.length === 0) out.push("(none recorded)");
  out.push("");
  if (review.diff?.files.length) {
    out.push(`### What attempt ${review.attempt} changed`, "");
    for (const f of review.diff.files) out.push(`- ${f.status} \`${f.path}\` (+${f.added} -${f.removed})`);
    out.push("");
  }
  const failed = attempt.checks.filter((c) => !c.passed);
  if (failed.length) {
    out.push("### Commands that failed", "");
    for (const c of failed) {
      out.push(
        `- ${c.kind} \`${c.command}\`: ${c.timed_out ? "timed out" : `exit ${c.exit_code ?? "none"}`}`,
      );
    }
    out.push("");
  }
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/\s+$/, "")}\n`;
}

/** What a rejected gate tells the packets it sends back for rework. */
export interface ReworkRequest {
  gate_id: string;
  reason: string;
}

/** The prompt of a packet reopened by a rejected gate: the packet prompt plus a "Rework" section with the operator's reason. */
export function renderReworkPrompt(packetPrompt: string, rework: ReworkRequest): string {
  return `${[
    packetPrompt.replace(/\s+$/, ""),
    "",
    "## Rework",
    "",
    `An operator rejected gate \`${rework.gate_id}\` and sent this packet back for rework. Their reason:`,
    "",
    fence(rework.reason),
    "",
    "Address the reason; the packet's checks run again before the gate is asked again.",
  ].join("\n")}\n`;
}
