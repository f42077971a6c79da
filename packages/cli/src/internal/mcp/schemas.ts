import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

let dir: string | null = null;

/** The folder holding @dwm/schemas' `*.schema.json` files (read from disk: importing the package would load its validators). */
export function schemaDir(): string {
  dir ??= path.dirname(createRequire(import.meta.url).resolve("@dwm/schemas/package.json"));
  return dir;
}

let names: string[] | null = null;

/** Names of the schema files, `run` for run.schema.json, sorted. */
export function schemaNames(): string[] {
  names ??= fs
    .readdirSync(schemaDir())
    .filter((f) => f.endsWith(".schema.json"))
    .map((f) => f.slice(0, -".schema.json".length))
    .sort();
  return names;
}

/** The schema file's text as shipped. */
export function schemaText(name: string): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new TypeError(`bad schema name ${name}`);
  return fs.readFileSync(path.join(schemaDir(), `${name}.schema.json`), "utf8");
}

const cache = new Map<string, JsonObject>();

/** Copies `node` without `$id`/`$schema`, each `$ref` passed through `ref`. */
function rewrite(node: Json, ref: (r: string) => string): Json {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, ref));
  if (node === null || typeof node !== "object") return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$id" || k === "$schema") continue;
    out[k] = k === "$ref" && typeof v === "string" ? ref(v) : rewrite(v, ref);
  }
  return out;
}

/**
 * Schemas with every schema they reference (`common.schema.json#/$defs/x`, ...), each whole under
 * `$defs/<file>` (`$defs/common.schema.json`: a schema's own `$defs` names never end so) with its
 * refs pointing there: one document a client can compile alone (MCP tool schemas travel without
 * their files). `$id` and `$schema` are dropped: an embedded `$id` would change how refs resolve.
 */
export function embeddedSchemas(names: readonly string[]): JsonObject {
  const defs: JsonObject = {};
  const pending = [...names];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (`${next}.schema.json` in defs) continue;
    const { doc, refs } = embedded(next);
    defs[`${next}.schema.json`] = doc;
    for (const r of refs) if (!(`${r}.schema.json` in defs) && !pending.includes(r)) pending.push(r);
  }
  return defs;
}

const embeddedCache = new Map<string, { doc: Json; refs: string[] }>();

/** One schema file with its refs pointing at `#/$defs/<file>.schema.json`, and the files it refers to (once per file). */
function embedded(owner: string): { doc: Json; refs: string[] } {
  const hit = embeddedCache.get(owner);
  if (hit) return hit;
  const refs = new Set<string>();
  const doc = rewrite(JSON.parse(schemaText(owner)) as Json, (r) => {
    const [file, frag = ""] = r.split("#");
    const target = file ? file.replace(/\.schema\.json$/, "") : owner;
    if (target !== owner) refs.add(target);
    return `#/$defs/${target}.schema.json${frag}`;
  });
  const out = { doc, refs: [...refs] };
  embeddedCache.set(owner, out);
  return out;
}

/** One schema, standalone: its own keywords and `$defs` at the top, the schemas it references under `$defs/<file>`. */
export function bundledSchema(name: string): JsonObject {
  const hit = cache.get(name);
  if (hit) return hit;
  const defs = embeddedSchemas([name]);
  const own = defs[`${name}.schema.json`] as JsonObject;
  delete defs[`${name}.schema.json`];
  // The schema's own $defs move back to the top, and refs to them follow.
  const text = JSON.stringify({ ...own, $defs: { ...((own.$defs as JsonObject) ?? {}), ...defs } });
  const self = `"#/$defs/${name}.schema.json`;
  const out = JSON.parse(
    text.replaceAll(`${self}/`, () => '"#/').replaceAll(`${self}"`, () => '"#"'),
  ) as JsonObject;
  if (Object.keys(out.$defs as JsonObject).length === 0) delete out.$defs;
  cache.set(name, out);
  return out;
}
