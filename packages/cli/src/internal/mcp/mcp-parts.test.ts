// The parts of `dwm mcp` that decide without a client: argument checks, standalone schemas,
// the runner's argv and error, and the tool table's promises (no approval anywhere).
import fs from "node:fs";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { checkArguments, INPUT_SCHEMA_KEYWORDS, validArguments } from "./arguments.js";
import { toolError } from "./call-tool.js";
import { leasesOf, runArgv, runnerError } from "./run-launcher.js";
import { bundledSchema, embeddedSchemas, schemaDir, schemaNames } from "./schemas.js";
import { outputSchemaOf, toolList } from "./server.js";
import { TOOL_SPECS as TOOLS } from "./tool-specs.js";
import { TOOL_CALLS } from "./tools.js";

/** Every `$ref` in a schema document. */
function refs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refs);
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [v] : refs(v)));
}

/** The node a local ref (`#/a/b`) points at in `doc`, or undefined. */
function resolve(doc: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .filter((s) => s !== "")
    .reduce<unknown>(
      (n, k) => (n && typeof n === "object" ? (n as Record<string, unknown>)[k] : undefined),
      doc,
    );
}

/** The keywords a schema uses (property names under `properties` are not keywords). */
function keywords(node: unknown): string[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [];
  return Object.entries(node).flatMap(([k, v]) => {
    if (k === "properties") return [k, ...Object.values(v as object).flatMap(keywords)];
    if (k === "oneOf") return [k, ...(v as unknown[]).flatMap(keywords)];
    return [k];
  });
}

describe("tool arguments", () => {
  it("every input schema uses only the keywords the checker implements", () => {
    for (const t of TOOLS) {
      const used = new Set(keywords(t.inputSchema));
      for (const k of used) expect(INPUT_SCHEMA_KEYWORDS, `${t.name} uses ${k}`).toContain(k);
      expect(t.inputSchema).toMatchObject({ type: "object", additionalProperties: false });
    }
  });

  it("finds every problem, with its pointer", () => {
    const schema = TOOLS.find((t) => t.name === "log")?.inputSchema as Record<string, unknown>;
    expect(checkArguments(schema, { after_seq: -1, limit: 1.5, packet: 3, extra: true })).toEqual([
      { pointer: "/after_seq", message: "must be ≥ 0" },
      { pointer: "/limit", message: "must be integer" },
      { pointer: "/packet", message: "must be string" },
      { pointer: "/extra", message: "is not an argument of this tool" },
    ]);
    expect(checkArguments(schema, { run: "r", after_seq: 0, limit: 1 })).toEqual([]);
    expect(checkArguments(schema, [])).toEqual([{ pointer: "/", message: "must be object" }]);
  });

  it("missing arguments are an empty object; a failure is ERR_MCP_ARGUMENTS with every problem in details", () => {
    const status = TOOLS.find((t) => t.name === "status")?.inputSchema as Record<string, unknown>;
    expect(validArguments("status", status, undefined)).toEqual({});
    const e = (() => {
      try {
        validArguments("status", status, { run: 1, store: false });
      } catch (x) {
        return x as { code: string; message: string; details: { problems: unknown[] } };
      }
      return null;
    })();
    expect(e?.code).toBe("ERR_MCP_ARGUMENTS");
    expect(e?.message).toBe("status: /run must be string; /store must be string");
    expect(e?.details.problems).toHaveLength(2);
  });
});

describe("standalone schemas", () => {
  it("every schema file bundles with every ref resolving inside the document", () => {
    for (const name of schemaNames()) {
      const doc = bundledSchema(name);
      for (const r of refs(doc)) {
        expect(r.startsWith("#"), `${name}: ${r}`).toBe(true);
        expect(resolve(doc, r), `${name}: ${r}`).toBeDefined();
      }
      expect(JSON.stringify(doc)).not.toMatch(/"\$id"|"\$schema"/);
    }
  });

  it("folds common.schema.json under $defs/common and keeps the schema's own keywords at the top", () => {
    const s = bundledSchema("next-action");
    expect(s.title).toBe("NextStep");
    expect(Object.keys(s.$defs as object)).toContain("common.schema.json");
    expect(refs(s).some((r) => r.startsWith("#/$defs/common.schema.json/$defs/"))).toBe(true);
    const both = embeddedSchemas(["compile-result", "run-check"]);
    expect(Object.keys(both).sort()).toEqual(
      ["common", "compile-result", "invalidator", "run-check"].map((n) => `${n}.schema.json`).sort(),
    );
  });

  it("a schema's own $defs stay its own, even where one is named like a file it refers to", () => {
    // packet-detail.schema.json has $defs/attempt and refers to attempt.schema.json.
    for (const name of schemaNames()) {
      const own = JSON.parse(fs.readFileSync(path.join(schemaDir(), `${name}.schema.json`), "utf8"));
      const bundled = bundledSchema(name).$defs as Record<string, Record<string, unknown>> | undefined;
      for (const [k, def] of Object.entries((own.$defs ?? {}) as Record<string, Record<string, unknown>>)) {
        expect(Object.keys(bundled?.[k]?.properties ?? {}), `${name} $defs/${k}`).toEqual(
          Object.keys(def.properties ?? {}),
        );
      }
    }
  });

  it("the compile tool's output schema is one of its two documents, refs resolving", () => {
    const compile = TOOLS.find((t) => t.name === "compile");
    const doc = outputSchemaOf(compile as (typeof TOOLS)[number]) as Record<string, unknown>;
    expect(doc.type).toBe("object");
    for (const r of refs(doc)) expect(resolve(doc, r), r).toBeDefined();
  });
});

describe("the run tool's runner", () => {
  it("passes the tool's options to dwm run, streaming NDJSON, and never an approval or a policy", () => {
    expect(
      runArgv(
        { store: "s", backend: "codex", concurrency: 2, until: "complete", max_attempts: 0, token_budget: 9 },
        "/r/plan.json",
      ),
    ).toEqual([
      "run",
      "/r/plan.json",
      "--ndjson",
      "--no-policy",
      "--store",
      "s",
      "--backend",
      "codex",
      "--concurrency",
      "2",
      "--until",
      "complete",
      "--max-attempts",
      "0",
      "--token-budget",
      "9",
    ]);
    expect(runArgv({ approve: ["write"] }, null)).toEqual(["run", "--ndjson", "--no-policy"]);
  });

  it("reads the runner's last error and hint from its log", () => {
    const log = '{"seq":1}\nerror ERR_EXEC_NO_BINDING: no worker bindings\nhint: Write dwm.workers.json\n';
    expect(runnerError(log)).toEqual({
      code: "ERR_EXEC_NO_BINDING",
      message: "no worker bindings",
      hint: "Write dwm.workers.json",
    });
    expect(runnerError('{"kind":"run-outcome"}\n')).toBeNull();
  });

  it("counts the leases a process took in the journal, ignoring a line being written", () => {
    const dir = makeTempDir("dwm-mcp-lease-");
    try {
      const line = (type: string, pid: number) => JSON.stringify({ type, data: { host: "h", pid } });
      fs.writeFileSync(
        path.join(dir.path, "journal.jsonl"),
        [
          line("lease.taken", 7),
          line("lease.taken", 8),
          line("lease.taken-over", 7),
          '{"type":"lease.taken","da',
        ].join("\n"),
      );
      expect(leasesOf(dir.path, 7)).toBe(2);
      expect(leasesOf(dir.path, 8)).toBe(1);
      expect(leasesOf(path.join(dir.path, "none"), 7)).toBe(0);
    } finally {
      dir.cleanup();
    }
  });
});

describe("the tool table", () => {
  it("offers no way to approve, reject or set a policy, and every tool says what it returns", () => {
    expect(TOOLS.map((t) => t.name)).toEqual([
      "evaluate",
      "compile",
      "run",
      "status",
      "next",
      "show",
      "gates",
      "log",
      "verify",
      "report",
    ]);
    expect(Object.keys(TOOL_CALLS)).toEqual(TOOLS.map((t) => t.name));
    expect(toolList().map((t) => t.outputSchema?.title ?? "(inline)")).toEqual([
      "Scorecard",
      "(inline)",
      "McpRunStart",
      "StatusReport",
      "NextStep",
      "PacketDetail",
      "GatesReport",
      "JournalLog",
      "VerifyReport",
      "ReportResult",
    ]);
    for (const t of toolList()) {
      expect(JSON.stringify(t.inputSchema)).not.toMatch(/"approve"|"reject"|polic/i);
      expect(t.description?.length).toBeGreaterThan(40);
    }
  });

  it("a DWM error becomes a tool error holding its code and hint; anything else ERR_CLI_INTERNAL", async () => {
    const { mcpErrors } = await import("./errors.js");
    const r = toolError(mcpErrors.create("ERR_MCP_RUN_FAILED", "boom", { details: { log: "x" } }), false);
    expect(r.isError).toBe(true);
    expect(JSON.parse((r.content[0] as { text: string }).text)).toMatchObject({
      kind: "error",
      error: { code: "ERR_MCP_RUN_FAILED", message: "boom", details: { log: "x" } },
    });
    const other = JSON.parse((toolError(new Error("x"), false).content[0] as { text: string }).text);
    expect(other.error).toMatchObject({ code: "ERR_CLI_INTERNAL", message: "x" });
    expect(other.error.hint).toMatch(/DWM_DEBUG/);
  });
});
