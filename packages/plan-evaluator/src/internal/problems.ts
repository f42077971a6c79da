import type { PlanProblem } from "@dwm/schemas";
import { type PlanErrorCode, planEvaluatorErrors } from "../errors.js";

/** RFC 6901 pointer from path tokens. */
export function pointer(...tokens: (string | number)[]): string {
  return tokens.map((t) => `/${String(t).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

/** Collects problems, one per (code, pointer, message), in the order found. */
export class ProblemList {
  readonly items: PlanProblem[] = [];
  private readonly seen = new Set<string>();

  add(code: PlanErrorCode, at: string, message: string, hint?: string): void {
    const key = `${code}\u0000${at}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({ code, pointer: at, message, hint: hint ?? planEvaluatorErrors[code].hint });
  }

  has(code: PlanErrorCode, at: string): boolean {
    return this.items.some((p) => p.code === code && p.pointer === at);
  }
}

// Defensive readers: the semantic rules run on plans the schema may have rejected,
// so every access checks the shape it needs and yields nothing otherwise.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The strings of a list, with their indexes (non-strings skipped). */
export function strings(v: unknown): [string, number][] {
  const out: [string, number][] = [];
  arr(v).forEach((x, i) => {
    if (typeof x === "string") out.push([x, i]);
  });
  return out;
}

/** A value for a message: short JSON. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
