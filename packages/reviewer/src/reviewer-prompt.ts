import type { Attempt, Packet, Review, ReviewCheck } from "@dwm/schemas";

/**
 * The prompt of the optional reviewer worker: the packet's task, what the attempt
 * changed and what the deterministic checks found, and the request to refute the
 * result. The worker answers with a verdict the caller's port parses.
 */
export function renderReviewerPrompt(
  packet: Packet,
  attempt: Attempt,
  so_far: { checks: ReviewCheck[]; diff: Review["diff"]; patch?: string | null },
): string {
  const lines = [
    `# Review of ${packet.packet_id}, attempt ${attempt.attempt}`,
    "",
    "You are the reviewer. Try to refute the result below: look for work that does not do what the task",
    "asks, claims the evidence does not support, tests that were weakened, and changes outside the task.",
    "Do not fix anything. Answer with exactly one verdict line, then your reasons:",
    "",
    "    VERDICT: approved | changes-requested | needs-human",
    "",
    "## Task",
    "",
    `Objective: ${packet.objective}`,
    "",
    packet.instruction,
    "",
  ];
  if (packet.phase.exit_criteria.length) {
    lines.push("Exit criteria:", ...packet.phase.exit_criteria.map((c) => `- ${c}`), "");
  }
  if (packet.verification.length) {
    lines.push(
      "Verification (claim, and what would falsify it):",
      ...packet.verification.map((v) => `- ${v.claim_or_output} — falsified if: ${v.falsifier}`),
      "",
    );
  }
  lines.push("## What the attempt changed", "");
  if (so_far.diff?.files.length) {
    for (const f of so_far.diff.files) lines.push(`- ${f.status} ${f.path} (+${f.added} -${f.removed})`);
  } else {
    lines.push("- no file changed");
  }
  lines.push("", `Branch: ${attempt.branch ?? "none"} at ${attempt.head_commit ?? "no commit"}`, "");
  lines.push("## Checks DWM ran", "");
  for (const c of so_far.checks) lines.push(`- [${c.status}] ${c.id}: ${c.detail}`);
  lines.push("");
  if (so_far.patch) lines.push("## The change (diff.patch)", "", fencePatch(so_far.patch), "");
  return `${lines.join("\n")}`;
}

/** The longest part of the attempt's patch quoted in the reviewer's prompt; the commit holds all of it. */
const PATCH_CHARS = 20_000;

function fencePatch(patch: string): string {
  const cut =
    patch.length > PATCH_CHARS
      ? `${patch.slice(0, PATCH_CHARS)}\n… (cut; the candidate commit holds the rest)`
      : patch;
  const longest = Math.max(2, ...[...cut.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}diff\n${cut.replace(/\n$/, "")}\n${f}`;
}
