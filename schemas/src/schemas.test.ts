import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  GATE_CATEGORIES,
  loadSchema,
  RISK_CATEGORIES,
  SCHEMA_NAMES,
  type SchemaName,
  validateSchema,
} from "./index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("generated types and validators", () => {
  it("are up to date with the schema files", () => {
    // Exits 1 (and so throws) when any generated file differs from what gen would write.
    const out = execFileSync(process.execPath, [path.join(root, "scripts/gen.mjs"), "--check"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(out).toContain("up to date");
  }, 180_000); // gen renders every validator; slow on a loaded 2-core machine

  it("cover every schema file", () => {
    const files = fs.readdirSync(root).filter((f) => f.endsWith(".schema.json"));
    expect([...SCHEMA_NAMES].sort()).toEqual(files.map((f) => f.replace(".schema.json", "")).sort());
  });

  it.each(SCHEMA_NAMES.map((n) => [n]))("%s has a versioned $id and a title", (name) => {
    const s = loadSchema(name);
    expect(s.$id).toBe(`https://schemas.dwm.dev/v1/${name}.schema.json`);
    expect(typeof s.title).toBe("string");
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });
});

describe("schema examples", () => {
  const dir = path.join(root, "examples");
  const cases: [string, string, boolean][] = [];
  for (const name of fs.readdirSync(dir)) {
    for (const validity of ["valid", "invalid"]) {
      const sub = path.join(dir, name, validity);
      if (!fs.existsSync(sub)) continue;
      for (const f of fs.readdirSync(sub)) cases.push([name, path.join(sub, f), validity === "valid"]);
    }
  }

  it("exist", () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases)("%s: %s", (name, file, valid) => {
    expect(SCHEMA_NAMES).toContain(name);
    const value = JSON.parse(fs.readFileSync(file, "utf8"));
    const r = validateSchema(name as SchemaName, value);
    expect(r.ok, JSON.stringify(r.problems)).toBe(valid);
  });
});

describe("validateSchema", () => {
  it("points at the missing key", () => {
    const r = validateSchema("doctor-report", {
      kind: "doctor-report",
      schema_version: "1",
      ok: true,
      checks: [],
    });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.pointer)).toContain("/dwm_version");
  });
});

describe("gate categories", () => {
  it("are gate.schema.json's enum; the risk categories are approval-policy.schema.json's", () => {
    const gate = loadSchema("gate") as { properties: { category: { enum: string[] } } };
    const policy = loadSchema("approval-policy") as {
      properties: { approve: { items: { enum: string[] } } };
    };
    expect([...GATE_CATEGORIES]).toEqual(gate.properties.category.enum);
    expect([...RISK_CATEGORIES]).toEqual(policy.properties.approve.items.enum);
    expect(GATE_CATEGORIES.at(-1)).toBe("human-review");
    expect(Object.isFrozen(RISK_CATEGORIES)).toBe(true);
  });
});
