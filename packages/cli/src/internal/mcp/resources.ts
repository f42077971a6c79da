import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandContext } from "../../command.js";
import { listRuns, repoRoot } from "../../run-arg.js";
import { mcpErrors } from "./errors.js";
import { schemaDir, schemaNames, schemaText } from "./schemas.js";
import { callCommand } from "./tools.js";

/** A resource as resources/list shows it. */
export interface ResourceEntry {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType: string;
}

/** The contents of one resource. */
export interface ResourceText {
  uri: string;
  mimeType: string;
  text: string;
}

/** What a run offers as resources: its plan, its scorecard, and the report `dwm report` writes. */
const RUN_FILES = {
  "plan.json": { mimeType: "application/json", description: "The canonical snapshot of the run's plan." },
  "scorecard.json": { mimeType: "application/json", description: "The evaluation of the run's plan." },
  "report.html": {
    mimeType: "text/html",
    description: "The run's self-contained HTML report (written by dwm report when read).",
  },
} as const;

/** URI templates of the per-run resources. */
export const RESOURCE_TEMPLATES = Object.entries(RUN_FILES).map(([file, f]) => ({
  uriTemplate: `dwm://runs/{run_id}/${file}`,
  name: `run-${file.replace(/\..*$/, "")}`,
  description: `${f.description} Runs of the default store (.dwm/runs).`,
  mimeType: f.mimeType,
}));

/**
 * The skill's folder: dist/skill (the build copies it there; beside the bundled `dwm` chunks, or
 * two levels up from dist/internal/mcp), else the repository's skill/ (running from src/).
 */
export function skillDir(): string | null {
  for (const rel of ["./skill", "../../skill", "../../../../../skill"]) {
    const d = fileURLToPath(new URL(rel, import.meta.url));
    if (fs.existsSync(path.join(d, "SKILL.md"))) return d;
  }
  return null;
}

function skillFiles(): string[] {
  const dir = skillDir();
  if (dir === null) return [];
  const refs = fs.existsSync(path.join(dir, "references"))
    ? fs
        .readdirSync(path.join(dir, "references"))
        .filter((f) => f.endsWith(".md"))
        .sort()
        .map((f) => `references/${f}`)
    : [];
  return ["SKILL.md", ...refs];
}

function storeDir(ctx: CommandContext): string {
  return path.join(repoRoot(ctx.cwd), ".dwm", "runs");
}

/** Every resource: the skill, the schema files, and the plan, scorecard and report of each run in the default store. */
export function listResources(ctx: CommandContext): ResourceEntry[] {
  const skill = skillFiles().map((f) => ({
    uri: `dwm://skill/${f}`,
    name: f === "SKILL.md" ? "skill" : `skill-${path.basename(f, ".md")}`,
    description:
      f === "SKILL.md"
        ? "How to design a DWM workflow plan and operate DWM (the agent skill)."
        : `Skill reference: ${path.basename(f, ".md")}.`,
    mimeType: "text/markdown",
  }));
  const schemas = schemaNames().map((n) => ({
    uri: `dwm://schemas/${n}.schema.json`,
    name: `schema-${n}`,
    description: `JSON Schema (draft 2020-12) of ${n}.`,
    mimeType: "application/schema+json",
  }));
  const runs = listRuns(storeDir(ctx)).flatMap((id) =>
    Object.entries(RUN_FILES).map(([file, f]) => ({
      uri: `dwm://runs/${id}/${file}`,
      name: `${id}-${file.replace(/\..*$/, "")}`,
      description: f.description,
      mimeType: f.mimeType,
    })),
  );
  return [...skill, ...schemas, ...runs];
}

function notFound(uri: string): Error {
  return mcpErrors.create("ERR_MCP_RESOURCE_NOT_FOUND", `no resource ${uri}`, { details: { uri } });
}

/** The text of one resource; ERR_MCP_RESOURCE_NOT_FOUND for a URI DWM does not serve. */
export async function readResource(uri: string, ctx: CommandContext): Promise<ResourceText> {
  const skill = /^dwm:\/\/skill\/(.+)$/.exec(uri);
  if (skill) {
    const dir = skillDir();
    if (dir === null || !skillFiles().includes(skill[1] as string)) throw notFound(uri);
    return {
      uri,
      mimeType: "text/markdown",
      text: fs.readFileSync(path.join(dir, skill[1] as string), "utf8"),
    };
  }
  const schema = /^dwm:\/\/schemas\/([a-z0-9-]+)\.schema\.json$/.exec(uri);
  if (schema) {
    if (!fs.existsSync(path.join(schemaDir(), `${schema[1]}.schema.json`))) throw notFound(uri);
    return { uri, mimeType: "application/schema+json", text: schemaText(schema[1] as string) };
  }
  const run = /^dwm:\/\/runs\/([^/]+)\/(plan\.json|scorecard\.json|report\.html)$/.exec(uri);
  if (!run) throw notFound(uri);
  const [, id, file] = run as unknown as [string, string, keyof typeof RUN_FILES];
  // Only run ids the store lists become paths.
  if (!listRuns(storeDir(ctx)).includes(id)) throw notFound(uri);
  const mimeType = RUN_FILES[file].mimeType;
  if (file !== "report.html") {
    return { uri, mimeType, text: fs.readFileSync(path.join(storeDir(ctx), id, file), "utf8") };
  }
  const r = await callCommand("report", [id], {}, ctx);
  const written = (r.output as { file?: string }).file;
  if (typeof written !== "string") throw notFound(uri);
  return { uri, mimeType, text: fs.readFileSync(path.resolve(ctx.cwd, written), "utf8") };
}
