import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import type { EvidenceFile } from "@dwm/schemas";

/** Every regular file below `dir` as POSIX paths relative to it, sorted; symlinks are removed and reported. */
export function walkFiles(dir: string): { files: string[]; removedLinks: string[] } {
  const files: string[] = [];
  const removedLinks: string[] = [];
  const visit = (rel: string) => {
    const abs = rel === "" ? dir : path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isSymbolicLink()) {
        // A tool could plant a link in its output folder; evidence holds bytes, never links.
        fs.rmSync(path.join(dir, r), { force: true });
        removedLinks.push(r);
      } else if (e.isDirectory()) visit(r);
      else if (e.isFile()) files.push(r);
    }
  };
  if (fs.existsSync(dir)) visit("");
  return { files: files.sort(), removedLinks: removedLinks.sort() };
}

/** `{ path, digest, bytes }` of each file (raw bytes). */
export function describeFiles(dir: string, rels: readonly string[]): EvidenceFile[] {
  return rels.map((rel) => {
    const data = fs.readFileSync(path.join(dir, rel));
    return { path: rel, digest: digestBytes(data), bytes: data.length };
  });
}

/** Find `program` on a PATH string the way a shell would (executable regular file). */
export function which(program: string, pathVar: string | undefined): string | null {
  if (program.includes("/")) return null;
  for (const d of (pathVar ?? "").split(path.delimiter)) {
    if (d === "") continue;
    const f = path.join(d, program);
    try {
      const st = fs.statSync(f);
      if (!st.isFile()) continue;
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  return null;
}

/** A folder name for a worker id (ids come from the plan and may hold any character). */
export function safeName(id: string): string {
  const s = id.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return s === "" ? "_" : s.slice(0, 80);
}
