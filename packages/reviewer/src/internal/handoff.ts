import type { HandoffFormat } from "@dwm/schemas";

/** One item of a list handoff that fails its checks. */
export interface ItemProblem {
  /** Where it is: `item [i]` (0-based, as in the JSON array) or `line n` (JSON Lines, 1-based). */
  at: string;
  /** required_fields entries the item lacks (all of them when it is not an object). */
  missing: string[];
  /** The item is not a JSON object. */
  notObject: boolean;
  /** The item as JSON, bounded in size. */
  excerpt: string;
}

/** What checking a handoff artifact against its declared format found. */
export interface HandoffCheck {
  /** The content does not parse as its format (JSON formats only). */
  formatError: string | null;
  /** required_fields entries that are absent (from any item, for a list). */
  missing: string[];
  /** How fields were looked for, for the record. */
  method: string;
  /** The items of a list that lack fields or are not objects, in list order. */
  items: ItemProblem[];
}

/** Longest excerpt of one offending item quoted into a review. */
const ITEM_EXCERPT_CHARS = 400;

function hasPath(value: unknown, field: string): boolean {
  let cur: unknown = value;
  for (const part of field.split(".")) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return false;
    if (!Object.hasOwn(cur, part)) return false;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur !== undefined;
}

/** A fan-out item's field as the expansion reads it: an own key whose value is not null. */
function hasItemField(item: Record<string, unknown>, field: string): boolean {
  return Object.hasOwn(item, field) && item[field] !== null && item[field] !== undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function excerptOf(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > ITEM_EXCERPT_CHARS ? `${s.slice(0, ITEM_EXCERPT_CHARS)}…` : s;
}

/** Each item checked for the fields; the items that fail, and the union of what they lack. */
function checkItems(
  values: readonly { at: string; value: unknown }[],
  required: readonly string[],
  has: (item: Record<string, unknown>, field: string) => boolean,
): { items: ItemProblem[]; missing: string[] } {
  const items: ItemProblem[] = [];
  for (const { at, value } of values) {
    const notObject = !isObject(value);
    const missing = notObject ? [...required] : required.filter((f) => !has(value, f));
    if (notObject || missing.length > 0) items.push({ at, missing, notObject, excerpt: excerptOf(value) });
  }
  const missing = required.filter((f) => items.some((p) => p.missing.includes(f)));
  return { items, missing };
}

function parsed(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function checkJson(text: string, required: readonly string[]): HandoffCheck {
  const p = parsed(text);
  if ("error" in p) {
    return { formatError: `not valid JSON: ${p.error}`, missing: [...required], method: "json", items: [] };
  }
  const value = p.value;
  if (Array.isArray(value)) {
    if (required.length > 0 && value.length === 0) {
      return { formatError: null, missing: [...required], method: "json array (empty)", items: [] };
    }
    const at = value.map((v, i) => ({ at: `item [${i}]`, value: v }));
    // A plain JSON array keeps its documented reading: dotted paths, and only a missing key is missing.
    const { items, missing } = checkItems(at, required, hasPath);
    return { formatError: null, missing, method: "json array: every item", items };
  }
  if (!isObject(value)) {
    return {
      formatError:
        required.length > 0
          ? "a JSON handoff with required fields must be an object or an array of objects"
          : null,
      missing: [...required],
      method: "json",
      items: [],
    };
  }
  return {
    formatError: null,
    missing: required.filter((f) => !hasPath(value, f)),
    method: "json object",
    items: [],
  };
}

/** The values of a list handoff: one JSON array (json-list) or one JSON value a non-empty line (jsonl). */
function listValues(
  format: "json-list" | "jsonl",
  text: string,
): { values: { at: string; value: unknown }[] } | { error: string } {
  if (format === "json-list") {
    const p = parsed(text);
    if ("error" in p) return { error: `not valid JSON: ${p.error}` };
    if (!Array.isArray(p.value)) return { error: "a json-list handoff must be one JSON array of objects" };
    return { values: p.value.map((v, i) => ({ at: `item [${i}]`, value: v })) };
  }
  const values: { at: string; value: unknown }[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    if (raw.trim() === "") continue;
    const p = parsed(raw);
    if ("error" in p) return { error: `line ${i + 1} is not valid JSON: ${p.error}` };
    values.push({ at: `line ${i + 1}`, value: p.value });
  }
  return { values };
}

/**
 * A list a fan-out iterates, read as the expansion reads it: every item an object whose
 * every required field is an own key with a non-null value. An empty list is a list.
 */
function checkList(format: "json-list" | "jsonl", text: string, required: readonly string[]): HandoffCheck {
  const method = `${format}: every item an object with every field`;
  const v = listValues(format, text);
  if ("error" in v) return { formatError: v.error, missing: [...required], method, items: [] };
  const { items, missing } = checkItems(v.values, required, hasItemField);
  const first = items.find((p) => p.notObject);
  return {
    formatError: first ? `${first.at} is not a JSON object` : null,
    missing,
    method,
    items,
  };
}

/**
 * Check a handoff artifact's content against its format and required fields.
 * JSON: an object must carry every field (dotted paths reach nested objects); an
 * array must be non-empty and every item must carry every field. json-list and
 * jsonl: every item an object with every field set (not null), as a fan-out reads
 * them. Markdown: each field is a heading, a `field:` label or a bold `**field**`.
 * Other formats: the field name must appear in the text.
 */
export function checkHandoff(
  format: HandoffFormat | undefined,
  text: string,
  required: readonly string[],
): HandoffCheck {
  if (format === "json") return checkJson(text, required);
  if (format === "json-list" || format === "jsonl") return checkList(format, text, required);
  if (format === "markdown") {
    const missing = required.filter((f) => {
      const e = escapeRegExp(f);
      const re = new RegExp(
        `^\\s{0,3}(#{1,6}\\s+.*\\b${e}\\b|[-*]?\\s*\\**${e}\\**\\s*:|.*\\*\\*${e}\\*\\*)`,
        "im",
      );
      return !re.test(text);
    });
    return { formatError: null, missing, method: "markdown heading, label or bold", items: [] };
  }
  const lower = text.toLowerCase();
  return {
    formatError: null,
    missing: required.filter((f) => !lower.includes(f.toLowerCase())),
    method: "text contains the field name",
    items: [],
  };
}
