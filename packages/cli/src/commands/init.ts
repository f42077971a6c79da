import fs from "node:fs";
import path from "node:path";
import { nodeProcessRunner, writeFileAtomic } from "@dwm/core";
import { executorErrors, WORKER_BINDINGS_FILE } from "@dwm/executor";
import type { InitResult } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { STARTER_OUT, starterBindings, starterPlan } from "../internal/starter.js";
import { ensureStoreIgnored } from "../internal/store-ignore.js";

/** The starter plan's file name, at the repository root. */
export const PLAN_FILE = "workflow.plan.json";

/** The three commands after `dwm init`: check the plan, run it (approving its write gate as you), read the report. */
export const INIT_NEXT: InitResult["next"] = [
  ["dwm", "evaluate", PLAN_FILE],
  ["dwm", "run", PLAN_FILE, "--approve", "write"],
  ["dwm", "report", "--open"],
];

/** The repository around `cwd` (its top level), or ERR_EXEC_NOT_A_REPO. */
async function repositoryOf(ctx: CommandContext): Promise<string> {
  const r = await nodeProcessRunner.run({
    argv: ["git", "rev-parse", "--show-toplevel"],
    cwd: ctx.cwd,
    env: Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined)),
    timeoutMs: 15_000,
  });
  if (r.exitCode !== 0 || r.spawnError !== null) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${ctx.cwd} is not inside a git repository`, {
      hint: "Run dwm init in your repository (git init first for a new one).",
      details: { dir: ctx.cwd },
    });
  }
  return fs.realpathSync(r.stdout.trim());
}

/** A plan id from the repository's folder name (a slug), else "starter". */
export function planIdFor(root: string): string {
  const slug = path
    .basename(root)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+|-+$/g, "");
  return slug === "" ? "starter" : slug.slice(0, 60);
}

/** Write `rel` under `root` unless it exists (then it is kept as it is, or replaced with --force). */
function writeUnlessThere(root: string, rel: string, value: unknown, force: boolean, out: InitResult): void {
  const file = path.join(root, rel);
  if (fs.existsSync(file) && !force) {
    out.kept.push(rel);
    return;
  }
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  out.written.push(rel);
}

/** `dwm init`: a starter plan and bindings that run as they are, a run store that ignores itself, and what to run next. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const root = await repositoryOf(ctx);
  const force = args.values.force === true;
  const out: InitResult = {
    kind: "init-result",
    schema_version: "1",
    repo: root,
    written: [],
    kept: [],
    next: INIT_NEXT,
  };
  writeUnlessThere(root, PLAN_FILE, starterPlan(planIdFor(root)), force, out);
  writeUnlessThere(root, WORKER_BINDINGS_FILE, starterBindings(), force, out);
  const ignore = ensureStoreIgnored(root, ".dwm");
  if (ignore) out.written.push(ignore);
  return { exitCode: 0, output: out, text: render(out) };
}

function render(r: InitResult): string {
  const rel = (cmd: readonly string[] | undefined) => (cmd ?? []).join(" ");
  return [
    `In ${r.repo}:`,
    ...r.written.map((f) => `  wrote ${f}`),
    ...r.kept.map((f) => `  kept ${f} (it exists; --force replaces it)`),
    "",
    `The starter plan lists the repository's tracked files, then summarises them by extension, in ${STARTER_OUT}/ of the run's integration branch (your checkout is not touched). Next:`,
    `  $ ${rel(r.next[0])}   # check the plan`,
    `  $ ${rel(r.next[1])}   # run it, approving its write gate as you`,
    `  $ ${rel(r.next[2])}   # the run's report, in your browser`,
  ].join("\n");
}
