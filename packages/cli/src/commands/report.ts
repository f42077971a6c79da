import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "@dwm/core";
import type { ReportResult } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { viewBindings } from "../internal/prices.js";
import { reportData } from "../internal/report-data.js";
import { renderReport } from "../internal/report-html.js";
import { readRunModel } from "../internal/run-model.js";
import { ensureStoreIgnored } from "../internal/store-ignore.js";
import { repoRoot, resolveRun } from "../run-arg.js";

/** `dwm report [run]`: the run as one self-contained HTML page (graph, packets, gates, integration, timeline, cost). */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const r = resolveRun(args, ctx);
  const root = repoRoot(ctx.cwd);
  const workers = typeof args.values.workers === "string" ? args.values.workers : undefined;
  const model = readRunModel(r.runDir);
  const data = reportData(model, r.runDir, await viewBindings(workers, ctx.cwd, root), {
    ref: r.ref,
    cwd: ctx.cwd,
    root,
  });
  const html = renderReport(data);
  const out = outFile(args.values.out, ctx.cwd, root, data.run_id);
  writeFileAtomic(out, html);
  const shown = path.relative(ctx.cwd, out) || out;
  const opened = args.values.open === true ? openInBrowser(out, ctx) : false;
  const result: ReportResult = {
    kind: "report-result",
    schema_version: "1",
    run_id: data.run_id,
    file: shown,
    bytes: Buffer.byteLength(html),
    packets: data.packets.length,
    edges: data.edges.length,
    cost: data.cost,
    opened,
  };
  return { exitCode: 0, output: result, text: render(result) };
}

/** `--out FILE` (relative to the current directory), else .dwm/reports/<run>.html at the repository root. */
function outFile(out: unknown, cwd: string, root: string, runId: string): string {
  if (typeof out === "string" && out !== "") return path.resolve(cwd, out);
  ensureStoreIgnored(root, ".dwm");
  return path.join(root, ".dwm", "reports", `${runId}.html`);
}

/**
 * Start the viewer of the operator's choice on the file: $BROWSER (as most tools read it),
 * else the system's opener (xdg-open, open, start). Detached: `dwm` does not wait for it.
 * Returns the program started, or null when none was found.
 */
export function openInBrowser(file: string, ctx: CommandContext): string | null {
  const browser = ctx.env.BROWSER?.split(":")[0]?.trim();
  const candidates =
    browser !== undefined && browser !== ""
      ? [[browser]]
      : process.platform === "darwin"
        ? [["open"]]
        : process.platform === "win32"
          ? [["cmd", "/c", "start", '""']]
          : [["xdg-open"]];
  for (const [program, ...pre] of candidates) {
    if (program === undefined || !onPath(program, ctx.env.PATH)) continue;
    const child = spawn(program, [...pre, file], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, ...ctx.env } as NodeJS.ProcessEnv,
    });
    child.on("error", () => {});
    child.unref();
    return program;
  }
  return null;
}

/** Whether `program` (a path, or a name looked up on PATH) is an executable file. */
function onPath(program: string, pathVar: string | undefined): boolean {
  const candidates = program.includes("/")
    ? [program]
    : (pathVar ?? "").split(path.delimiter).map((d) => path.join(d, program));
  return candidates.some((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return fs.statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

function render(r: ReportResult): string {
  const opened =
    r.opened === false
      ? ""
      : r.opened === null
        ? "\nNo browser to open it with (set BROWSER, or install xdg-open); open the file yourself."
        : `\nOpened with ${r.opened}.`;
  return `Report of run ${r.run_id}: ${r.file} (${r.packets} packets, ${r.edges} dependencies, ${r.bytes} bytes; self-contained, no network needed).${opened}`;
}
