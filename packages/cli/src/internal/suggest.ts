/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The candidate closest to what was typed, when it is close enough to be a slip: a prefix
 * of it, or within a third of its length in edits (at least 1, at most 3). Null otherwise.
 */
export function closest(typed: string, candidates: readonly string[]): string | null {
  const t = typed.toLowerCase();
  let best: { c: string; d: number } | null = null;
  for (const c of candidates) {
    const d = c.toLowerCase().startsWith(t) && t.length >= 2 ? 0.5 : editDistance(t, c.toLowerCase());
    if (best === null || d < best.d) best = { c, d };
  }
  if (best === null) return null;
  const limit = Math.min(3, Math.max(1, Math.floor(best.c.length / 3)));
  return best.d <= limit ? best.c : null;
}

/** " (did you mean X?)" for a slip, else "". */
export function didYouMean(typed: string, candidates: readonly string[], show = (c: string) => c): string {
  const c = closest(typed, candidates);
  return c === null ? "" : ` (did you mean ${show(c)}?)`;
}
