import fs from "node:fs";
import path from "node:path";
import {
  dwmConfigDir,
  loadOperatorKey,
  nodeProcessRunner,
  OPERATORS_FILE,
  readOperators,
  writeFileAtomic,
} from "@dwm/core";
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

/**
 * The key steps a first run needs before INIT_NEXT: `dwm keys init` without an operator key,
 * `dwm keys trust` while the repository does not trust it (every run signs its approvals).
 */
export function keySteps(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
): InitResult["next"] {
  let keyId: string;
  try {
    keyId = loadOperatorKey(dwmConfigDir(env)).keyId;
  } catch {
    return [
      ["dwm", "keys", "init"],
      ["dwm", "keys", "trust"],
    ];
  }
  let trusted = false;
  try {
    trusted = readOperators(path.join(root, OPERATORS_FILE)).keys.some((k) => k.key_id === keyId);
  } catch {
    // an unreadable dwm.operators.json: `dwm keys trust` says what is wrong with it
  }
  return trusted ? [] : [["dwm", "keys", "trust"]];
}

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
    next: [...keySteps(root, ctx.env), ...INIT_NEXT],
  };
  writeUnlessThere(root, PLAN_FILE, starterPlan(planIdFor(root)), force, out);
  writeUnlessThere(root, WORKER_BINDINGS_FILE, starterBindings(), force, out);
  const ignore = ensureStoreIgnored(root, ".dwm");
  if (ignore) out.written.push(ignore);
  return { exitCode: 0, output: out, text: render(out) };
}

const WHY: Record<string, string> = {
  "dwm keys init": "once: your operator key (it signs your approvals), outside every repository",
  "dwm keys trust": "this repository trusts your key (commit dwm.operators.json)",
  [(INIT_NEXT[0] ?? []).join(" ")]: "check the plan",
  [(INIT_NEXT[1] ?? []).join(" ")]: "run it, approving its write gate as you",
  [(INIT_NEXT[2] ?? []).join(" ")]: "the run's report, in your browser",
};

function render(r: InitResult): string {
  const rel = (cmd: readonly string[] | undefined) => (cmd ?? []).join(" ");
  return [
    `In ${r.repo}:`,
    ...r.written.map((f) => `  wrote ${f}`),
    ...r.kept.map((f) => `  kept ${f} (it exists; --force replaces it)`),
    "",
    `The starter plan lists the repository's tracked files, then summarises them by extension, in ${STARTER_OUT}/ of the run's integration branch (your checkout is not touched). Next:`,
    ...r.next.map((cmd) => `  $ ${rel(cmd)}   # ${WHY[rel(cmd)] ?? ""}`.trimEnd()),
  ].join("\n");
}
