import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import type { RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import type { StatCache } from "./stat-cache.js";

/** state.json as one store check reads it: the seq and head it records when it reads as a run state. */
export type StateCacheRead =
  | { kind: "state"; seq: number; head: string | null }
  | { kind: "missing" }
  | { kind: "unreadable" };

/**
 * Reads state.json once for both of the store check's uses (the journal cannot be shorter than
 * its seq; is it fresh). Its schema check (tens of ms on a 1,000-packet run) is skipped when the
 * stat cache says its bytes are unchanged since they last passed it; `dwm verify` has no cache.
 */
export function readStateCache(runDir: string, file: string, cache: StatCache | null): StateCacheRead {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path.join(runDir, file));
  } catch (e) {
    return (e as NodeJS.ErrnoException)?.code === "ENOENT" ? { kind: "missing" } : { kind: "unreadable" };
  }
  let v: Partial<RunState>;
  try {
    v = JSON.parse(buf.toString("utf8")) as Partial<RunState>;
  } catch {
    return { kind: "unreadable" };
  }
  const known = cache?.recorded(file);
  const passed = known !== undefined && cache?.fresh(file, known) === true;
  if (!passed) {
    if (!validateSchema("run-state", v).ok) return { kind: "unreadable" };
    cache?.verified(file, digestBytes(buf));
  }
  return typeof v.seq === "number"
    ? { kind: "state", seq: v.seq, head: v.head ?? null }
    : { kind: "unreadable" };
}

/** What `stateCacheStatus` says of a state.json read by readStateCache. */
export function stateCacheStatusOf(
  r: StateCacheRead,
  seq: number,
  head: string | null,
): "fresh" | "stale" | "missing" {
  if (r.kind === "missing") return "missing";
  return r.kind === "state" && r.seq === seq && r.head === head ? "fresh" : "stale";
}
