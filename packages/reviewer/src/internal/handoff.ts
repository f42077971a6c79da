import type { HandoffFormat } from "@dwm/schemas";

/** What checking a handoff artifact against its declared format found. */
export interface HandoffCheck {
  /** The content does not parse as its format (JSON only). */
  formatError: string | null;
  /** required_fields entries that are absent. */
  missing: string[];
  /** How fields were looked for, for the record. */
  method: string;
}

function hasPath(value: unknown, field: string): boolean {
  let cur: unknown = value;
  for (const part of field.split(".")) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return false;
    if (!Object.hasOwn(cur, part)) return false;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur !== undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Check a handoff artifact's content against its format and required fields.
 * JSON: an object must carry every field (dotted paths reach nested objects); an
 * array must be non-empty and every item must carry every field. Markdown: each
 * field is a heading, a `field:` label or a bold `**field**`. Other formats: the
 * field name must appear in the text.
 */
export function checkHandoff(
  format: HandoffFormat | undefined,
  text: string,
  required: readonly string[],
): HandoffCheck {
  if (format === "json") {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return {
        formatError: `not valid JSON: ${(e as Error).message}`,
        missing: [...required],
        method: "json",
      };
    }
    if (Array.isArray(value)) {
      if (required.length > 0 && value.length === 0) {
        return { formatError: null, missing: [...required], method: "json array (empty)" };
      }
      const missing = required.filter((f) => !value.every((item) => hasPath(item, f)));
      return { formatError: null, missing, method: "json array: every item" };
    }
    if (typeof value !== "object" || value === null) {
      return {
        formatError:
          required.length > 0
            ? "a JSON handoff with required fields must be an object or an array of objects"
            : null,
        missing: [...required],
        method: "json",
      };
    }
    return { formatError: null, missing: required.filter((f) => !hasPath(value, f)), method: "json object" };
  }
  if (format === "markdown") {
    const missing = required.filter((f) => {
      const e = escapeRegExp(f);
      const re = new RegExp(
        `^\\s{0,3}(#{1,6}\\s+.*\\b${e}\\b|[-*]?\\s*\\**${e}\\**\\s*:|.*\\*\\*${e}\\*\\*)`,
        "im",
      );
      return !re.test(text);
    });
    return { formatError: null, missing, method: "markdown heading, label or bold" };
  }
  const lower = text.toLowerCase();
  return {
    formatError: null,
    missing: required.filter((f) => !lower.includes(f.toLowerCase())),
    method: "text contains the field name",
  };
}
