import type { TokenUsage } from "@dwm/schemas";

// Each agent CLI's reader lives with the rest of its backend; these are all of them, for one import.
export { parseClaude } from "./backends/claude.js";
export { parseCodex } from "./backends/codex.js";
export { parseGeneric, type TranscriptInfo, type TranscriptReader } from "./json-lines.js";

/** Sum token counts over invocations; null when none reported any. */
export function sumTokens(list: readonly (TokenUsage | null)[]): TokenUsage | null {
  const present = list.filter((t): t is TokenUsage => t !== null);
  if (present.length === 0) return null;
  const out: TokenUsage = {};
  for (const t of present) {
    for (const [k, v] of Object.entries(t) as [keyof TokenUsage, number | undefined][]) {
      if (v === undefined) continue;
      out[k] = (out[k] ?? 0) + v;
    }
  }
  if (out.cost_usd !== undefined) out.cost_usd = Math.round(out.cost_usd * 1e6) / 1e6;
  return out;
}
