// File helpers the gate drivers share: copy a fixture folder, digest a tree, edit JSON by
// pointer, tamper with files the way a case says, and hide temporary paths in outputs.
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact } from "@dwm/core";

/** A JSON edit by JSON pointer (RFC 6901). */
export type JsonEdit =
  | { op: "set"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "push"; path: string; value: unknown };

/** A change a case makes to a file before the step under test reads it. */
export type FileTamper =
  | { file: string; replace: [string, string] }
  | { file: string; append: string }
  | { file: string; write: string }
  | { file: string; remove: true }
  /** Cut this many bytes off the end. */
  | { file: string; truncate: number }
  /** Remove line n (1-based) of a text file. */
  | { file: string; drop_line: number }
  /** Parse, edit, and write back in canonical artifact rendering. */
  | { file: string; edit: JsonEdit[] }
  | { file: string; symlink_to: string };

/** Copy a folder (files and folders; no symlinks in fixtures). */
export function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copyTree(a, b);
    else fs.copyFileSync(a, b);
  }
}

/** Every file below `dir` (relative, sorted) with its raw-bytes digest; `skip` leaves names out. */
export function treeDigests(dir: string, skip: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.includes(r) || skip.includes(name)) continue;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out[r] = `symlink:${fs.readlinkSync(path.join(dir, r))}`;
      else out[r] = digestBytes(fs.readFileSync(path.join(dir, r)));
    }
  };
  walk("");
  return out;
}

/** The digest of a whole tree: one digest over its file list and their digests. */
export function treeDigest(dir: string, skip: readonly string[] = []): string {
  return digest(treeDigests(dir, skip));
}

function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`bad JSON pointer ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Apply edits to a deep copy of `value`. */
export function applyEdits<T>(value: T, edits: readonly JsonEdit[] = []): T {
  const root = structuredClone(value) as unknown;
  for (const e of edits) {
    const parts = tokens(e.path);
    const last = parts.pop();
    let cur: unknown = root;
    for (const k of parts) cur = (cur as Record<string, unknown> | undefined)?.[k];
    if (cur === null || typeof cur !== "object" || last === undefined)
      throw new Error(`cannot edit ${e.path}`);
    const obj = cur as Record<string, unknown>;
    if (e.op === "set") obj[last] = structuredClone(e.value);
    else if (e.op === "remove") {
      if (Array.isArray(obj)) obj.splice(Number(last), 1);
      else delete obj[last];
    } else {
      const list = obj[last];
      if (!Array.isArray(list)) throw new Error(`${e.path} is not a list`);
      list.push(structuredClone(e.value));
    }
  }
  return root as T;
}

/** Read a JSON fixture file. */
export function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Make the changes a case asks for, in order, below `dir`. */
export function tamperFiles(dir: string, tampers: readonly FileTamper[] = []): void {
  for (const t of tampers) {
    const f = path.join(dir, t.file);
    if ("replace" in t) {
      const s = fs.readFileSync(f, "utf8");
      if (!s.includes(t.replace[0])) throw new Error(`tamper: ${t.file} does not contain ${t.replace[0]}`);
      fs.writeFileSync(f, s.replace(t.replace[0], t.replace[1]));
    } else if ("append" in t) fs.appendFileSync(f, t.append);
    else if ("write" in t) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, t.write);
    } else if ("remove" in t) fs.rmSync(f, { recursive: true });
    else if ("truncate" in t) fs.truncateSync(f, fs.statSync(f).size - t.truncate);
    else if ("drop_line" in t) {
      const lines = fs.readFileSync(f, "utf8").split("\n");
      if (t.drop_line < 1 || t.drop_line >= lines.length)
        throw new Error(`tamper: ${t.file} has no line ${t.drop_line}`);
      lines.splice(t.drop_line - 1, 1);
      fs.writeFileSync(f, lines.join("\n"));
    } else if ("edit" in t) fs.writeFileSync(f, renderArtifact(applyEdits(readJson(f), t.edit)));
    else {
      fs.rmSync(f, { force: true });
      fs.symlinkSync(t.symlink_to, f);
    }
  }
}

/** Every string in `value` with each absolute path replaced by its placeholder (longest first). */
export function scrubPaths<T>(value: T, places: Readonly<Record<string, string>>): T {
  const pairs = Object.entries(places).sort((a, b) => b[1].length - a[1].length);
  const fix = (s: string) => pairs.reduce((acc, [name, p]) => acc.split(p).join(name), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return fix(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [fix(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}
