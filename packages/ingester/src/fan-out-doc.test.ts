// docs/fan-out.md shows how item keys become packet ids, with examples; this keeps every
// example row equal to what expansion computes (fanoutItemId over the item's digest).
import fs from "node:fs";
import { digest } from "@dwm/core";
import { describe, expect, it } from "vitest";
import { fanoutItemId } from "./expand-fanout.js";

const doc = fs.readFileSync(new URL("../../../docs/fan-out.md", import.meta.url), "utf8");
/** The example rows: `| \`phase\` | \`{item}\` | \`key\` | \`packet id\` |`. */
const rows = [...doc.matchAll(/^\| `([^`]+)` \| `(\{[^`]*\})` \| `([^`]+)` \| `([^`]+)` \|$/gm)].map((m) => ({
  phase: m[1] as string,
  item: JSON.parse(m[2] as string) as Record<string, unknown>,
  key: m[3] as string,
  id: m[4] as string,
}));

describe("docs/fan-out.md: item keys to packet ids", () => {
  it("has examples, and each is the id expansion gives the item", () => {
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) {
      expect(fanoutItemId(r.phase, String(r.item[r.key]), digest(r.item)), JSON.stringify(r.item)).toBe(r.id);
    }
  });
});
