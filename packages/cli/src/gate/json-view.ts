// Helpers of the CLI's manifest gate: read a fixture folder, pick values out of the JSON
// outputs of a session, and leave out the values that carry process timings.
import fs from "node:fs";
import path from "node:path";

/** Every file below `dir` as text, by relative path. */
export function filesOf(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesOf(dir, r));
    else out[r] = fs.readFileSync(path.join(dir, r), "utf8");
  }
  return out;
}

function at(value: unknown, pointer: string): unknown {
  let cur = value;
  for (const t of pointer.split("/").slice(1)) {
    const key = t.replace(/~1/g, "/").replace(/~0/g, "~");
    cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return cur;
}

/**
 * The values a case names as "N:/pointer" (step N's JSON output, 1-based among the dwm steps),
 * in the same shape, so they compare as one object.
 */
export function pick(outputs: readonly unknown[], wanted: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(wanted)) {
    const m = /^(\d+):(\/.*)?$/.exec(key);
    const value = m ? at(outputs[Number(m[1]) - 1], m[2] ?? "") : undefined;
    out[key] = value === undefined ? "<absent>" : value;
  }
  return out;
}

// Keys whose values come from process timings or cover them (the journal head covers the
// digests of attempts, and an attempt records how long its processes ran), or that change
// with every release (package versions, and run.json's digest, which covers compiler_version).
const UNSTABLE = new Set(["duration_ms", "head", "run_digest"]);
const isVersion = (k: string) => k.endsWith("_version") && !k.endsWith("schema_version");

/** A journal event: its digest and link cover the events before it, attempts' timings included. */
const isEvent = (o: object) => ["seq", "prev", "type", "digest"].every((k) => k in o);

/** A JSON value with every timing- or release-dependent value replaced by a placeholder. */
export function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value !== null && typeof value === "object") {
    const event = isEvent(value);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const unstable = UNSTABLE.has(k) || isVersion(k) || (event && (k === "prev" || k === "digest"));
        return [k, unstable && typeof v !== "object" ? `<${k}>` : comparable(v)];
      }),
    );
  }
  return value;
}
